#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "cli/addresses.hpp"
#include "cli/command.hpp"
#include "cli/flag_hints.hpp"
#include "client/publisher.hpp"
#include "wire/http_client.hpp"
#include "wire/message.hpp"

namespace livechat::cli {
namespace {

struct SendOptions {
  std::optional<std::string> text;
  std::string url = k_default_message_url;
  std::string user;
  std::string room;
  std::string token;
  std::string cacert;
};

enum class Sent { ok, rejected, unreachable };

int run_send(const SendOptions& o, const Streams& io) {
  client::Publisher publisher(require_endpoint(o.url, "--url", o.cacert), o.token);
  auto send_one = [&](const std::string& text) {
    auto result = publisher.send(text, o.user, o.room);
    if (!result) {
      io.err << "livechat: error: " << with_flag_hint(result.error(), Service::message) << "\n";
      return wire::is_transport_code(result.error().code) ? Sent::unreachable : Sent::rejected;
    }
    io.out << result->id << "\n" << std::flush;
    return Sent::ok;
  };
  if (o.text) {
    return send_one(*o.text) == Sent::ok ? 0 : 1;
  }
  // No TEXT: one message per line of standard input; blank lines are skipped.
  bool all_sent = true;
  std::string line;
  while (std::getline(io.in, line)) {
    if (!line.empty() && line.back() == '\r') {
      line.pop_back();
    }
    if (line.find_first_not_of(" \t") == std::string::npos) {
      continue;
    }
    Sent sent = send_one(line);
    if (sent == Sent::unreachable) {
      return 1;  // nothing later would get through either
    }
    all_sent = all_sent && sent == Sent::ok;
  }
  return all_sent ? 0 : 1;
}

}  // namespace

Command setup_send(CLI::App& parent) {
  auto options = std::make_shared<SendOptions>();
  auto* app = parent.add_subcommand(
      "send", "Post a message and print its id (no TEXT: one message per line of stdin)");
  app->add_option("text", options->text, "The message text");
  app->add_option("--url", options->url, "Message service URL")
      ->envname("MESSAGE_SERVICE_URL")
      ->capture_default_str();
  app->add_option("--user", options->user,
                  "Name to post as (default: " + std::string(wire::k_default_user) + ")")
      ->envname("LIVECHAT_USER");
  app->add_option("--room", options->room,
                  "Room to post to (default: " + std::string(wire::k_default_room) + ")")
      ->envname("LIVECHAT_ROOM");
  add_cacert_option(*app, options->cacert);
  app->add_option("--token", options->token,
                  "User token, when the service needs one (livechat token makes one)")
      ->envname("LIVECHAT_TOKEN");
  return {app, [options](const Streams& io) { return run_send(*options, io); }};
}

}  // namespace livechat::cli
