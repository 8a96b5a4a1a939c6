// parse_bench_notification and parse_bench_data, what the load generator reads back: a bench
// message's payload, padded or not, is found again in its notification and in raw data; the
// quick look at a notification as the service renders it agrees with reading the whole JSON;
// a payload found in raw data is one that bench_content writes; any other text is read without
// harm.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "client/bench/delivery_tally.hpp"
#include "tests/fuzz/fuzz.hpp"
#include "wire/message.hpp"

using livechat::fuzz::check;
using namespace livechat::client::bench;

namespace {

bool same(const std::optional<BenchPayload>& a, const std::optional<BenchPayload>& b) {
  return a.has_value() == b.has_value() && (!a || (a->seq == b->seq && a->sent_ns == b->sent_ns));
}

// Renders a message with a space after each colon, where the quick look does not find it.
std::string spaced_json(const livechat::wire::Message& m) {
  nlohmann::json object = {{"id", m.id},
                           {"content", m.content},
                           {"user", m.user},
                           {"room", m.room},
                           {"timestamp", m.timestamp}};
  return object.dump(1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string raw(reinterpret_cast<const char*>(data), size);
  (void)parse_bench_notification(raw);
  if (auto found = parse_bench_data(raw)) {
    check(same(parse_bench_data(bench_content(found->seq, found->sent_ns)), found),
          "a payload found in raw data is one bench_content writes");
  }

  FuzzedDataProvider input(data, size);
  auto seq = input.ConsumeIntegral<std::uint64_t>();
  auto sent_ns = input.ConsumeIntegral<std::int64_t>();
  auto padding = input.ConsumeIntegralInRange<std::size_t>(0, 64);
  livechat::wire::Message message;
  message.id = input.ConsumeRandomLengthString();
  message.user = input.ConsumeRandomLengthString();
  message.room = input.ConsumeRandomLengthString();
  message.timestamp = input.ConsumeRandomLengthString();
  // The content of any message: the quick look and the whole read give the same answer.
  message.content = input.ConsumeRemainingBytesAsString();
  auto rendered = livechat::wire::notification_json(message);
  if (livechat::wire::parse_message_json(rendered)) {
    check(same(parse_bench_notification(rendered), parse_bench_notification(spaced_json(message))),
          "the quick look at a notification agrees with reading its JSON");
  }

  // A bench message as `livechat bench` sends it: padded after a space to --payload-bytes.
  message.content = bench_content(seq, sent_ns);
  if (padding > 0) {
    message.content.append(" ").append(padding - 1, 'x');
  }
  const BenchPayload sent{seq, sent_ns};
  check(same(parse_bench_notification(livechat::wire::notification_json(message)), sent),
        "the payload is found in its notification");
  if (livechat::wire::parse_message_json(livechat::wire::notification_json(message))) {
    check(same(parse_bench_notification(spaced_json(message)), sent),
          "the payload is found in a notification the quick look does not read");
  }
  check(same(parse_bench_data(message.content), sent), "the payload is found in raw data");
  return 0;
}
