// sse::Parser: the same bytes give the same events whole, split in two or one byte at a time.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tests/fuzz/fuzz.hpp"
#include "wire/sse.hpp"

namespace {

using livechat::fuzz::check;
using livechat::wire::sse::Event;
using livechat::wire::sse::Parser;

struct Outcome {
  std::vector<std::string> events;
  std::string last_event_id;
  std::optional<long> retry_ms;
  std::size_t comments = 0;

  bool operator==(const Outcome&) const = default;
};

Outcome parse(const std::vector<std::string_view>& chunks) {
  Parser parser;
  Outcome outcome;
  for (auto chunk : chunks) {
    bool fed = parser.feed(chunk, [&](const Event& event) {
      check(event.id == parser.last_event_id(), "an event carries the last event id");
      check(!event.type.empty(), "an event has a type");
      outcome.events.push_back(event.id + '\0' + event.type + '\0' + event.data);
    });
    check(fed, "a short stream never breaks the line bound");
  }
  outcome.last_event_id = parser.last_event_id();
  outcome.retry_ms = parser.retry_ms();
  outcome.comments = parser.comments();
  return outcome;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view stream(reinterpret_cast<const char*>(data), size);
  // The first byte picks the split point, so the corpus stays plain event streams.
  auto ways = livechat::fuzz::chunkings(stream, size == 0 ? 0 : data[0]);
  Outcome whole = parse(ways[0]);
  for (const auto& chunks : ways) {
    check(parse(chunks) == whole, "the events do not depend on how the bytes are split");
  }
  return 0;
}
