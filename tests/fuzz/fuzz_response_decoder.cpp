// client::bench::ResponseDecoder: the same response gives the same events and end whole, split in
// two or one byte at a time.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "client/bench/response_decoder.hpp"
#include "tests/fuzz/fuzz.hpp"

namespace {

using livechat::client::bench::ResponseDecoder;
using livechat::fuzz::check;

struct Outcome {
  std::vector<std::string> events;
  ResponseDecoder::State state = ResponseDecoder::State::head;
  int status = 0;
  std::string last_event_id;

  bool operator==(const Outcome&) const = default;
};

Outcome decode(const std::vector<std::string_view>& chunks) {
  ResponseDecoder decoder;
  Outcome outcome;
  for (auto chunk : chunks) {
    auto state = decoder.feed(chunk, [&](const livechat::wire::sse::Event& event) {
      outcome.events.push_back(event.id + '\0' + event.type + '\0' + event.data);
    });
    check(state == decoder.state(), "feed returns the state");
    check(state != ResponseDecoder::State::failed || !decoder.error().empty(),
          "a failure says why");
  }
  outcome.state = decoder.state();
  outcome.status = decoder.status();
  outcome.last_event_id = decoder.parser().last_event_id();
  return outcome;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view response(reinterpret_cast<const char*>(data), size);
  // The last byte picks the split point, so the corpus stays plain responses.
  auto ways = livechat::fuzz::chunkings(response, size == 0 ? 0 : data[size - 1]);
  Outcome whole = decode(ways[0]);
  if (whole.state == ResponseDecoder::State::body || whole.state == ResponseDecoder::State::ended) {
    check(whole.status == 200, "only a 200 has a body");
  }
  for (const auto& chunks : ways) {
    check(decode(chunks) == whole, "the outcome does not depend on how the bytes are split");
  }
  return 0;
}
