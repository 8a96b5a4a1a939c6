// What `livechat listen`, history and `send` read from a server: a message event's data
// (parse_message_json), a GET /messages answer (parse_stored_messages) and an error body
// (parse_error_body). Any bytes are read without harm; what is taken keeps the rules of a message,
// a history answer keeps every entry, and each written out again reads back equal.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "tests/fuzz/fuzz.hpp"
#include "wire/errors.hpp"
#include "wire/message.hpp"

namespace {

using livechat::fuzz::check;
using namespace livechat::wire;

void check_message(const Message& message) {
  livechat::fuzz::check_message_rules(message);
  auto line = notification_json(message);
  check(line.find('\n') == std::string::npos, "a message renders as one line");
  // A notification carries the event, not a message's state (its edits and reactions).
  Message event = message;
  event.edited.clear();
  event.reactions.clear();
  auto again = parse_message_json(line);
  check(again.ok() && *again == event, "a message rendered as a notification reads back equal");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);

  if (auto message = parse_message_json(body)) {
    check_message(*message);
  }

  if (auto history = parse_stored_messages(body)) {
    auto parsed = nlohmann::json::parse(body);
    check(parsed.is_array() && parsed.size() == history->size(),
          "history keeps every entry of the array");
    for (const auto& message : *history) {
      check_message(message);
    }
    auto again = parse_stored_messages(stored_array_json(*history));
    check(again.ok() && *again == *history, "history written out reads back equal");
  }

  if (auto error = parse_error_body(body)) {
    nlohmann::json object = {{"error", error->message}, {"code", error->code}};
    auto again = parse_error_body(object.dump());
    check(again && again->message == error->message && again->code == error->code,
          "an error body written out reads back equal");
    // The services' own rendering of an error, of any kind, reads back as message and code word.
    for (int k = 0; k <= static_cast<int>(ApiErrorKind::internal); ++k) {
      auto kind = static_cast<ApiErrorKind>(k);
      auto rendered = parse_error_body(render_error({kind, error->message}));
      check(rendered && rendered->message == error->message && rendered->code == code_word(kind),
            "render_error reads back as its message and code word");
    }
  }
  return 0;
}
