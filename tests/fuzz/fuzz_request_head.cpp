// wire::parse_head and check_partial_head as the connection loop uses them: a head that arrives
// in pieces gets the same verdict as the same head whole, and a head it takes keeps every
// promise of RequestHead.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "tests/fuzz/fuzz.hpp"
#include "wire/http_head.hpp"

namespace {

using livechat::fuzz::check;
using namespace livechat::wire;

const HeadLimits k_limits{512, 128};

// The verdict on a stream of bytes, read the way ConnectionStream::read_head reads them.
struct Verdict {
  bool done = false;  // a head, or an error, came out
  bool ok = false;
  int status = 0;
  std::string method, target, origin;
  std::uint64_t length = 0;
  bool chunked = false;

  bool operator==(const Verdict&) const = default;
};

Verdict judge(const std::vector<std::string_view>& chunks) {
  std::string buffer;
  Verdict v;
  for (auto chunk : chunks) {
    buffer += chunk;
    std::size_t at = 0;
    while (buffer.compare(at, 2, "\r\n") == 0) {
      at += 2;
    }
    std::string_view pending = std::string_view(buffer).substr(at);
    if (std::size_t size = head_size(pending); size > 0) {
      auto head = parse_head(pending.substr(0, size), k_limits);
      v.done = true;
      v.ok = head.ok();
      if (head) {
        v.method = head->method;
        v.target = head->target;
        v.origin = head->origin;
        v.length = head->content_length;
        v.chunked = head->chunked;
      } else {
        v.status = http_status(head.error().kind);
      }
      return v;
    }
    if (auto error = check_partial_head(pending, k_limits)) {
      v.done = true;
      v.status = http_status(error->kind);
      return v;
    }
  }
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto ways = livechat::fuzz::chunkings(bytes, size == 0 ? 0 : data[size - 1]);
  Verdict whole = judge(ways[0]);
  check(judge(ways[1]) == whole, "a head split in two gets the verdict of the whole");
  check(judge(ways[2]) == whole, "a head a byte at a time gets the verdict of the whole");
  if (whole.ok) {
    check(whole.length < 1'000'000'000'000'000'000ULL, "a taken length is below 10^18");
    check(!(whole.chunked && whole.length > 0), "never both framings");
    check(!whole.target.empty() && (whole.target[0] == '/' || whole.target == "*"),
          "a taken target is a path");
    check(whole.method.find_first_of(" \r\n") == std::string::npos, "a taken method is a token");
  } else if (whole.done) {
    check(whole.status >= 400 && whole.status < 600, "a refusal is an error status");
  }
  return 0;
}
