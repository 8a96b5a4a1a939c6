#pragma once

// The head of an HTTP/1.1 request (its request line and headers) read strictly, as RFC 9112
// asks. A head that two readers could take two ways (a proxy in front and this server, say) is
// refused instead of guessed at: that is how requests are smuggled.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "wire/errors.hpp"
#include "wire/result.hpp"

namespace livechat::wire {

// How large a head and the body it announces may be.
struct HeadLimits {
  // The request line and headers together, in bytes: nginx's default is 4 x 8 KiB; a token in
  // the URL or a header is a few hundred bytes.
  std::size_t max_head_bytes = 32 * 1024;
  // One line with its CRLF (cpp-httplib, which livechat's clients use, takes no longer one).
  std::size_t max_line_bytes = 8192;
};

// What a head says about its request and the body that follows it.
struct RequestHead {
  std::string method;
  std::string target;
  std::string version;               // "HTTP/1.1" or "HTTP/1.0"
  std::uint64_t content_length = 0;  // zero without a Content-Length (a POST with neither
                                     // framing has an empty body, RFC 9112 6.3); below 10^18
  bool chunked = false;              // Transfer-Encoding: chunked
  std::string origin;                // the Origin header, for CORS on an error answer
  // Every header as it came, its value without the white space around it.
  std::vector<std::pair<std::string, std::string>> fields;
};

// Tells whether two texts are equal but for ASCII case (header names, tokens).
bool iequals(std::string_view a, std::string_view b);

// Returns a header value without its optional white space (spaces and tabs) around it.
std::string_view trim_ows(std::string_view s);

// Returns the size of the head at the start of `bytes` through its blank line, or 0 while the
// blank line has not arrived.
std::size_t head_size(std::string_view bytes);

// Checks the start of a head that is still arriving: an error once a line, or the whole, has
// grown past its limit; the same error parse_head would give the whole head.
std::optional<ApiError> check_partial_head(std::string_view bytes, const HeadLimits& limits);

// Reads a whole head (through its blank line, as head_size measures it); the error is the
// answer, after which the connection must close.
Result<RequestHead, ApiError> parse_head(std::string_view head, const HeadLimits& limits);

}  // namespace livechat::wire
