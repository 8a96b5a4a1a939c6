// wire::parse_head and check_partial_head as the connection loop uses them: a head that arrives
// in pieces gets the same verdict as the same head whole, and a head it takes keeps every
// promise of RequestHead. The scanner keeps nothing between calls, so every way of splitting
// the bytes is covered by asking it about every prefix: a refused prefix stays refused, with
// the error of the whole head, and a head parse_head takes had no prefix refused; head_size is
// zero until the blank line and the same after it.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
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

bool same(const std::optional<ApiError>& a, const std::optional<ApiError>& b) {
  return a.has_value() == b.has_value() && (!a || a->kind == b->kind);
}

// Asks the scanner and head_size about every prefix of the bytes after the empty lines, up to
// the end of the head (or of the bytes), and checks the answers against the whole head's.
void check_prefixes(std::string_view bytes) {
  while (bytes.substr(0, 2) == "\r\n") {
    bytes.remove_prefix(2);
  }
  const std::size_t size = head_size(bytes);
  const std::string_view head = size > 0 ? bytes.substr(0, size) : bytes;
  std::optional<ApiError> whole;
  if (size > 0) {
    auto parsed = parse_head(head, k_limits);
    whole = parsed ? std::nullopt : std::optional<ApiError>(parsed.error());
  } else {
    whole = check_partial_head(head, k_limits);
  }
  std::optional<ApiError> refused;  // of the shortest prefix the scanner refused
  // Past max_head_bytes every prefix is refused as the first fault in it says.
  const std::size_t last = std::min(head.size(), k_limits.max_head_bytes + 8);
  for (std::size_t n = 0; n <= last; ++n) {
    auto prefix = head.substr(0, n);
    check(head_size(prefix) == (n == size ? size : 0),
          "head_size is zero until the blank line arrives");
    auto error = check_partial_head(prefix, k_limits);
    if (refused) {
      check(same(error, refused), "a refused prefix stays refused with the same error");
    } else if (error) {
      check(same(error, whole), "a refused prefix has the error of the whole head");
      refused = error;
    }
  }
  if (size > 0 && size < bytes.size()) {
    check(head_size(bytes.substr(0, size + 1)) == size, "head_size stays once the head is whole");
  }
  if (!whole) {
    check(!refused, "a head parse_head takes had no prefix refused");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  check_prefixes(bytes);
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
