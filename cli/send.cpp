#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

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
  // A change of a message instead of a post: its id (and for a reaction, the emoji).
  std::string edit;
  std::string remove;
  std::vector<std::string> react;    // ID EMOJI
  std::vector<std::string> unreact;  // ID EMOJI
};

enum class Sent { ok, rejected, unreachable };

// Edits, deletes or reacts to a message, as the options say; prints the message's id.
int run_change(const SendOptions& o, client::Publisher& publisher, const Streams& io) {
  wire::Result<wire::Message> result = wire::Error{"usage", ""};
  if (!o.edit.empty()) {
    if (!o.text) {
      io.err << "livechat: error: --edit ID needs the new TEXT\n";
      return 1;
    }
    result = publisher.edit(o.edit, *o.text, o.user);
  } else if (!o.remove.empty()) {
    result = publisher.remove(o.remove, o.user);
  } else {
    const auto& pair = o.react.empty() ? o.unreact : o.react;
    result = publisher.react(pair[0], pair[1], o.user, !o.react.empty());
  }
  if (!result) {
    io.err << "livechat: error: " << with_flag_hint(result.error(), Service::message) << "\n";
    return 1;
  }
  io.out << result->id << "\n" << std::flush;
  return 0;
}

int run_send(const SendOptions& o, const Streams& io) {
  client::Publisher publisher(require_endpoint(o.url, "--url", o.cacert), o.token);
  const int changes = !o.edit.empty() + !o.remove.empty() + !o.react.empty() + !o.unreact.empty();
  if (changes > 1) {
    io.err << "livechat: error: give one of --edit, --delete, --react and --unreact\n";
    return 1;
  }
  if (changes == 1) {
    if (o.text && o.edit.empty()) {
      io.err << "livechat: error: only --edit takes a TEXT\n";
      return 1;
    }
    return run_change(o, publisher, io);
  }
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
  app->add_option("text", options->text, "The message text (with --edit: the new text)");
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
  app->add_option("--edit", options->edit, "Edit your message ID: its text becomes TEXT");
  app->add_option("--delete", options->remove, "Delete your message ID");
  app->add_option("--react", options->react, "React to message ID with EMOJI")
      ->expected(2)
      ->type_name("ID EMOJI");
  app->add_option("--unreact", options->unreact, "Take back your EMOJI reaction to message ID")
      ->expected(2)
      ->type_name("ID EMOJI");
  return {app, [options](const Streams& io) { return run_send(*options, io); }};
}

}  // namespace livechat::cli
