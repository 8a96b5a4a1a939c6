// sse::encode_event, encode_comment, encode_retry: what is encoded parses back as it was.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz.hpp"
#include "wire/sse.hpp"

namespace {

using livechat::fuzz::check;
using namespace livechat::wire::sse;

// Returns text with CRLF and CR turned into LF, as the event stream reads line breaks.
std::string with_lf(const std::string& text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r') {
      out.push_back('\n');
      if (i + 1 < text.size() && text[i + 1] == '\n') {
        ++i;
      }
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

bool has_line_break(const std::string& text) {
  return text.find_first_of("\r\n") != std::string::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider input(data, size);
  std::string id = input.ConsumeRandomLengthString();
  std::string type = input.ConsumeRandomLengthString();
  long retry = input.ConsumeIntegralInRange<long>(0, 999'999'999);
  std::string text = input.ConsumeRemainingBytesAsString();

  // Ids and types are single lines by contract (the services only make such ones).
  if (!has_line_break(id) && !has_line_break(type) && id.find('\0') == std::string::npos) {
    std::vector<Event> events;
    Parser parser;
    check(parser.feed(encode_event(id, type, text), [&](const Event& e) { events.push_back(e); }),
          "an encoded event parses");
    check(events.size() == 1, "one encoded event is one event");
    check(events[0].id == id, "the id comes back");
    check(events[0].type == (type.empty() ? "message" : type), "the type comes back");
    check(events[0].data == with_lf(text), "the data comes back, line breaks as LF");
    check(parser.last_event_id() == id, "the id becomes the last event id");
  }

  Parser parser;
  bool dispatched = false;
  check(parser.feed(encode_comment(text) + encode_retry(retry),
                    [&](const Event&) { dispatched = true; }),
        "an encoded comment parses");
  check(!dispatched, "a comment is no event");
  std::string lines = with_lf(text);
  auto breaks = static_cast<std::size_t>(std::count(lines.begin(), lines.end(), '\n'));
  check(parser.comments() == 1 + breaks, "each line of a comment is a comment line");
  check(parser.retry_ms() == retry, "the retry delay comes back");
  return 0;
}
