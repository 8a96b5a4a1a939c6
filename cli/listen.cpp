#include <pthread.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "cli/addresses.hpp"
#include "cli/command.hpp"
#include "cli/flag_hints.hpp"
#include "cli/stop_signals.hpp"
#include "cli/units.hpp"
#include "client/history.hpp"
#include "client/subscriber.hpp"
#include "wire/http_client.hpp"
#include "wire/id.hpp"
#include "wire/message.hpp"

namespace livechat::cli {
namespace {

struct ListenOptions {
  std::string url = k_default_notify_url;
  std::string message_url = k_default_message_url;
  std::string rooms;
  std::string since;
  std::size_t count = 0;
  bool json = false;
  std::optional<unsigned> max_retries;
  double idle_timeout_seconds = seconds(client::StreamRequest{}.idle_timeout);
  std::string token;
  std::string cacert;
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

// Formats "12:00:00 [general] John Doe: Hello" in local time, and a change as
// "12:00:05 [general] ann edited 20240101120000.000001: new text".
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
  std::string line = clock + " [" + printable(m.room) + "] " + printable(m.user);
  switch (m.kind) {
    case wire::EventKind::edit:
      return line + " edited " + printable(m.message_id) + ": " + printable(m.content);
    case wire::EventKind::deletion:
      return line + " deleted " + printable(m.message_id);
    case wire::EventKind::reaction:
      return line + (m.removed ? " took back " : " reacted ") + printable(m.emoji) +
             (m.removed ? " on " : " to ") + printable(m.message_id);
    default:
      return line + ": " + printable(m.content) + (m.edited.empty() ? "" : " (edited)");
  }
}

std::string seconds_text(std::chrono::milliseconds delay) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f s", static_cast<double>(delay.count()) / 1000.0);
  return buffer;
}

int run_listen(const ListenOptions& o, const Streams& io) {
  auto endpoint = require_endpoint(o.url, "--url", o.cacert);
  auto message_endpoint = require_endpoint(o.message_url, "--message-url", o.cacert);
  client::SubscriberOptions options;
  if (!o.rooms.empty()) {
    auto rooms = wire::parse_room_list(o.rooms);
    if (!rooms) {
      throw UserError("--room: " + rooms.error().message);
    }
    options.request.rooms = *rooms;
  }
  options.request.last_event_id = o.since;
  options.request.token = o.token;
  options.request.idle_timeout =
      std::chrono::milliseconds(static_cast<long>(o.idle_timeout_seconds * 1000));
  options.max_retries = o.max_retries;
  const bool json = o.json || !io.out_is_terminal;

  StopSignals signals;
  client::Subscriber subscriber(endpoint, options);
  std::thread stopper([&] {
    signals.wait();
    subscriber.stop();
  });
  // However run() ends, the stopper is woken and joined before what it uses goes away.
  struct JoinStopper {
    std::thread& thread;
    ~JoinStopper() {
      pthread_kill(thread.native_handle(), SIGTERM);
      thread.join();
    }
  } join_stopper{stopper};

  std::size_t printed = 0;
  bool stdout_closed = false;
  client::Subscriber::Handlers handlers;
  handlers.on_message = [&](const wire::Message& message, const std::string& data) {
    if (json) {
      io.out << data << "\n" << std::flush;
    } else {
      io.out << human_line(message) << "\n" << std::flush;
    }
    if (!io.out) {
      stdout_closed = true;  // e.g. `livechat listen | head -n 1` is done
      return false;
    }
    ++printed;
    return o.count == 0 || printed < o.count;
  };
  handlers.on_reset = [&](const std::string& last_id, const std::string& reason) {
    io.err << "the notification service cannot replay what came after " << last_id << " (" << reason
           << "); fetching it from " << message_endpoint.origin() << "\n";
    auto missed = client::fetch_after(message_endpoint, last_id, options.request.rooms,
                                      options.request.token);
    if (!missed) {
      io.err << "warning: messages after " << last_id
             << " may have been missed: " << missed.error().message << "\n";
      return;
    }
    for (const auto& message : *missed) {
      subscriber.deduplicate(message);
    }
  };
  handlers.on_status = [&](const client::SubscriberStatus& status) {
    using Kind = client::SubscriberStatus::Kind;
    if (status.kind == Kind::connecting) {
      io.err << "connecting to " << endpoint.origin() << "...\n";
    } else if (status.kind == Kind::connected) {
      io.err << "connected\n";
    } else {
      io.err << "reconnecting in " << seconds_text(status.delay) << " ("
             << with_flag_hint({status.code, status.reason}) << ")\n";
    }
  };

  auto end = subscriber.run(handlers);
  using Kind = client::StreamEnd::Kind;
  if (stdout_closed) {
    return 1;
  }
  if (end.kind == Kind::stopped || (o.count != 0 && printed >= o.count)) {
    return 0;
  }
  std::string retried = o.max_retries && *o.max_retries > 0
                            ? " (gave up after " + std::to_string(*o.max_retries) + " retries)"
                            : "";
  switch (end.kind) {
    case Kind::unreachable:
      throw UserError(with_flag_hint({end.code, "cannot reach the notification service at " +
                                                    endpoint.origin() + " (" + end.detail + ")"},
                                     Service::notify) +
                      retried);
    case Kind::rejected:
      throw UserError("the notification service rejected the stream (HTTP " +
                      std::to_string(end.status) + "): " + end.detail + retried);
    default:
      throw UserError("the stream from " + endpoint.origin() + " ended: " + end.detail + retried);
  }
}

}  // namespace

Command setup_listen(CLI::App& parent) {
  auto options = std::make_shared<ListenOptions>();
  auto* app = parent.add_subcommand(
      "listen",
      "Print messages, edits, deletes and reactions as they arrive (NDJSON when --json or piped)");
  app->add_option("--url", options->url, "Notification service URL")
      ->envname("NOTIFICATION_SERVICE_URL")
      ->capture_default_str();
  app->add_option("--message-url", options->message_url,
                  "Message service URL, for history when the stream cannot replay a gap")
      ->envname("MESSAGE_SERVICE_URL")
      ->capture_default_str();
  app->add_option("--room", options->rooms, "Rooms to follow, comma-separated (default: all)")
      ->envname("LIVECHAT_ROOM");
  app->add_option("--since", options->since, "Start after this message id (replays what followed)");
  app->add_option("--count", options->count, "Exit after this many messages (0: never)")
      ->capture_default_str();
  app->add_flag("--json", options->json, "Print each event as one JSON object per line");
  add_cacert_option(*app, options->cacert);
  app->add_option("--token", options->token,
                  "User token, when the services need one (livechat token makes one)")
      ->envname("LIVECHAT_TOKEN");
  app->add_option("--max-retries", options->max_retries,
                  "Reconnect attempts in a row before giving up (default: forever)");
  app->add_option("--idle-timeout", options->idle_timeout_seconds,
                  "Seconds of silence (three heartbeats) after which the stream counts as dead")
      ->check(CLI::Range(0.1, 86400.0))
      ->capture_default_str();
  return {app, [options](const Streams& io) { return run_listen(*options, io); }};
}

}  // namespace livechat::cli
