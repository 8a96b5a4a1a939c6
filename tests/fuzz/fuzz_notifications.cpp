// parse_notifications and parse_message_json: what they accept renders and parses back equal
// (messages, edits, deletes and reactions; a notification leaves a message's state out).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tests/fuzz/fuzz.hpp"
#include "wire/message.hpp"

using livechat::fuzz::check;
using namespace livechat::wire;

namespace {

void check_message(const Message& message) {
  livechat::fuzz::check_message_rules(message);

  // A notification carries an event, not a message's state (its edits and reactions).
  Message event = message;
  event.edited.clear();
  event.reactions.clear();
  auto notification = parse_message_json(notification_json(message));
  check(notification.ok() && *notification == event, "a notification parses back equal");
  auto stored = parse_message_json(stored_json(message));
  check(stored.ok() && *stored == message, "a stored message parses back equal");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);

  if (auto message = parse_message_json(body)) {
    check_message(*message);
  }

  auto messages = parse_notifications(body, Limits{});
  if (!messages) {
    return 0;
  }
  for (const auto& message : *messages) {
    check_message(message);
  }
  auto events = *messages;
  for (auto& event : events) {
    event.edited.clear();
    event.reactions.clear();
  }
  auto again = parse_notifications(notification_array_json(*messages), Limits{});
  check(again.ok() && *again == events, "a batch parses back equal");
  return 0;
}
