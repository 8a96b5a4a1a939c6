#include <unistd.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <ctime>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "cli/command.hpp"
#include "cli/service_options.hpp"
#include "client/event_stream.hpp"
#include "wire/id.hpp"
#include "wire/message.hpp"

namespace livechat::cli {
namespace {

struct ListenOptions {
  std::string url = k_default_notify_url;
  std::string rooms;
  std::size_t count = 0;
  bool json = false;
};

// Makes message text safe for a terminal: control characters (escape sequences) are shown as
// U+FFFD, and continuation lines are indented under the first.
std::string printable(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (c == '\n') {
      out += "\n    ";
    } else if ((u < 0x20 && c != '\t') || u == 0x7F) {
      out += "\xEF\xBF\xBD";
    } else {
      out += c;
    }
  }
  return out;
}

// Formats "12:00:00 [general] John Doe: Hello" in local time.
std::string human_line(const wire::Message& m) {
  std::string clock = "--:--:--";
  if (auto micros = wire::parse_id(m.id)) {
    std::time_t seconds = static_cast<std::time_t>(*micros / 1'000'000);
    std::tm local{};
    localtime_r(&seconds, &local);
    char buffer[16];
    std::strftime(buffer, sizeof buffer, "%H:%M:%S", &local);
    clock = buffer;
  }
  return clock + " [" + printable(m.room) + "] " + printable(m.user) + ": " + printable(m.content);
}

int run_listen(const ListenOptions& o) {
  auto endpoint = require_endpoint(o.url, "--url");
  client::StreamRequest request;
  if (!o.rooms.empty()) {
    auto rooms = wire::parse_room_list(o.rooms);
    if (!rooms) {
      throw UserError("--room: " + rooms.error().message);
    }
    request.rooms = *rooms;
  }
  const bool json = o.json || !isatty(STDOUT_FILENO);
  StopSignals signals;
  client::EventStream stream(endpoint);
  std::thread stopper([&] {
    signals.wait();
    stream.stop();
  });
  stopper.detach();

  std::cerr << "connecting to " << endpoint.origin() << "...\n";
  std::size_t printed = 0;
  auto end = stream.run(request, [&](const wire::sse::Event& event) {
    if (event.type == "connected") {
      std::cerr << "connected\n";
      return true;
    }
    if (event.type != "message") {
      return true;
    }
    if (json) {
      std::cout << event.data << "\n" << std::flush;
    } else {
      auto message = wire::parse_message_json(event.data);
      if (!message) {
        std::cerr << "skipping an event that is not a message: " << message.error().message << "\n";
        return true;
      }
      std::cout << human_line(*message) << "\n" << std::flush;
    }
    ++printed;
    return o.count == 0 || printed < o.count;
  });
  using Kind = client::StreamEnd::Kind;
  switch (end.kind) {
    case Kind::stopped:
      return 0;
    case Kind::refused:
      throw UserError("cannot reach the notification service at " + endpoint.origin() + " (" +
                      end.detail + "): is livechat serve-notify running?");
    case Kind::rejected:
      throw UserError("the notification service refused the stream (HTTP " +
                      std::to_string(end.status) + "): " + end.detail);
    default:
      throw UserError("the stream from " + endpoint.origin() + " ended: " + end.detail);
  }
}

}  // namespace

Command setup_listen(CLI::App& parent) {
  auto options = std::make_shared<ListenOptions>();
  auto* app = parent.add_subcommand("listen",
                                    "Print messages as they arrive (NDJSON when --json or piped)");
  app->add_option("--url", options->url, "Notification service URL")
      ->envname("NOTIFICATION_SERVICE_URL")
      ->capture_default_str();
  app->add_option("--room", options->rooms, "Rooms to follow, comma-separated (default: all)")
      ->envname("LIVECHAT_ROOM");
  app->add_option("--count", options->count, "Exit after this many messages (0: never)")
      ->capture_default_str();
  app->add_flag("--json", options->json, "Print each message as one JSON object per line");
  return {app, [options] { return run_listen(*options); }};
}

}  // namespace livechat::cli
