// parse_bench_notification and parse_bench_data: a bench message's payload is found again in
// its notification and in raw data, and any other text is read without harm.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "client/delivery_tally.hpp"
#include "tests/fuzz/fuzz.hpp"
#include "wire/message.hpp"

using livechat::fuzz::check;
using namespace livechat::client;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string raw(reinterpret_cast<const char*>(data), size);
  (void)parse_bench_notification(raw);
  (void)parse_bench_data(raw);

  FuzzedDataProvider input(data, size);
  auto seq = input.ConsumeIntegral<std::uint64_t>();
  auto sent_ns = input.ConsumeIntegral<std::int64_t>();
  livechat::wire::Message message;
  message.id = input.ConsumeRandomLengthString();
  message.user = input.ConsumeRandomLengthString();
  message.room = input.ConsumeRandomLengthString();
  message.timestamp = input.ConsumeRemainingBytesAsString();
  message.content = bench_content(seq, sent_ns);

  auto found = parse_bench_notification(livechat::wire::notification_json(message));
  check(found && found->seq == seq && found->sent_ns == sent_ns,
        "the payload is found in its notification");
  auto in_data = parse_bench_data(message.content);
  check(in_data && in_data->seq == seq && in_data->sent_ns == sent_ns,
        "the payload is found in raw data");
  return 0;
}
