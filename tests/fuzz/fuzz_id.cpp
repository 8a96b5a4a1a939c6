// parse_id and format_id: ids round trip both ways, and nothing else parses.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "tests/fuzz/fuzz.hpp"
#include "wire/id.hpp"

using livechat::fuzz::check;
using livechat::wire::format_id;
using livechat::wire::parse_id;

namespace {

// The ids with four-digit years: 0000-01-01T00:00:00Z up to 9999-12-31T23:59:59.999999Z.
constexpr std::int64_t k_first_micros = -62'167'219'200'000'000;
constexpr std::int64_t k_last_micros = 253'402'300'799'999'999;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto micros = parse_id(text)) {
    check(format_id(*micros) == text, "a parsed id formats back to the same text");
  }

  // The first eight bytes as a time: every time in range formats to an id that parses back.
  std::uint64_t bits = 0;
  if (size > 0) {
    std::memcpy(&bits, data, std::min(size, sizeof bits));
  }
  std::int64_t micros =
      k_first_micros + static_cast<std::int64_t>(bits % (k_last_micros - k_first_micros + 1));
  auto id = format_id(micros);
  check(id.size() == 21, "an id is 21 characters");
  check(parse_id(id) == micros, "a formatted id parses back to the same time");
  if (micros < k_last_micros) {
    check(format_id(micros + 1) > id, "a later time makes a later id");
  }
  return 0;
}
