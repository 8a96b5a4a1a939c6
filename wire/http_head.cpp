#include "wire/http_head.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <vector>

namespace livechat::wire {
namespace {

// The methods HTTP/1.1 defines (and PRI); any other token is a method this server lacks.
constexpr std::array<std::string_view, 10> k_methods = {
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "PRI"};

// Digits enough for any body this server could take; more cannot be a size it accepts.
constexpr std::size_t k_max_length_digits = 18;

bool is_tchar(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool is_token(std::string_view s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](char c) { return is_tchar(static_cast<unsigned>(c)); });
}

// A field value's byte: visible ASCII, space, tab, or obs-text; never NUL, CR, LF or DEL.
bool is_value_char(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

ApiError bad(std::string message) { return {ApiErrorKind::bad_request, std::move(message)}; }

ApiError line_too_long(bool request_line) {
  if (request_line) {
    return {ApiErrorKind::uri_too_long, "the request's URL is longer than 8 KiB"};
  }
  return {ApiErrorKind::headers_too_large, "a header line is longer than 8 KiB"};
}

ApiError head_too_large() {
  return {ApiErrorKind::headers_too_large, "the request's headers are too large"};
}

// Scans what has arrived of a head, a byte at a time, up to its blank line: every LF has its
// CR, no CR stands alone, no line and not the whole is over its limit. Each fault is found at
// the first byte that shows it, so a head that arrives in pieces meets the same verdict as the
// head whole.
std::optional<ApiError> scan(std::string_view bytes, const HeadLimits& limits) {
  std::size_t line_start = 0;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i >= limits.max_head_bytes) {
      return head_too_large();
    }
    if (i - line_start + 1 > limits.max_line_bytes) {
      return line_too_long(line_start == 0);
    }
    const bool after_cr = i > line_start && bytes[i - 1] == '\r';
    if (bytes[i] == '\n') {
      if (!after_cr) {
        return bad("the request's head has a line that does not end with CRLF");
      }
      if (i - line_start == 1 && line_start > 0) {
        return std::nullopt;  // the blank line
      }
      line_start = i + 1;
    } else if (after_cr) {
      return bad("a bare CR in the request's head");
    }
  }
  return std::nullopt;
}

struct RequestLine {
  std::string_view method, target, version;
};

Result<RequestLine, ApiError> parse_request_line(std::string_view line) {
  auto sp1 = line.find(' ');
  auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    return bad("the request line must be METHOD TARGET HTTP/1.1, one space apart");
  }
  RequestLine r{line.substr(0, sp1), line.substr(sp1 + 1, sp2 - sp1 - 1), line.substr(sp2 + 1)};
  if (!is_token(r.method)) {
    return bad("the request's method is not a token");
  }
  const auto& v = r.version;
  if (v.size() != 8 || v.substr(0, 5) != "HTTP/" ||
      !std::isdigit(static_cast<unsigned char>(v[5])) || v[6] != '.' ||
      !std::isdigit(static_cast<unsigned char>(v[7]))) {
    return bad("the request line must end with HTTP/1.1");
  }
  if (v != "HTTP/1.1" && v != "HTTP/1.0") {
    return ApiError{ApiErrorKind::version_not_supported, "this server speaks HTTP/1.1 and 1.0"};
  }
  bool visible = !r.target.empty() && std::all_of(r.target.begin(), r.target.end(),
                                                  [](char c) { return c > 0x20 && c < 0x7f; });
  if (!visible || (r.target.front() != '/' && !(r.target == "*" && r.method == "OPTIONS"))) {
    return bad("the request's target must be a path starting with /");
  }
  if (std::find(k_methods.begin(), k_methods.end(), r.method) == k_methods.end()) {
    return ApiError{ApiErrorKind::not_implemented, "this server does not know that method"};
  }
  return r;
}

// Reads a Content-Length value: digits only.
Result<std::uint64_t, ApiError> parse_length(std::string_view text) {
  if (text.empty() ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return bad("Content-Length must be digits only");
  }
  std::uint64_t n = 0;
  if (text.size() > k_max_length_digits ||
      std::from_chars(text.data(), text.data() + text.size(), n).ec != std::errc{}) {
    return ApiError{ApiErrorKind::too_large, "request body too large"};
  }
  return n;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// Tells whether a header's value decides how the request is framed or read: those may not
// hold a percent sign, which a reader in front that decodes them would read another way.
bool is_decoded(std::string_view name) {
  for (auto framing : {"Content-Type", "Content-Encoding", "Transfer-Encoding", "Connection",
                       "Expect", "Host", "Content-Length"}) {
    if (iequals(name, framing)) {
      return true;
    }
  }
  return false;
}

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

std::size_t head_size(std::string_view bytes) {
  auto at = bytes.find("\r\n\r\n");
  return at == std::string_view::npos ? 0 : at + 4;
}

std::optional<ApiError> check_partial_head(std::string_view bytes, const HeadLimits& limits) {
  return scan(bytes, limits);
}

Result<RequestHead, ApiError> parse_head(std::string_view head, const HeadLimits& limits) {
  if (auto error = check_partial_head(head, limits)) {
    return *error;
  }
  // Every line ends with CRLF now; the last two bytes are the blank line's.
  std::vector<std::string_view> lines;
  for (std::size_t start = 0; start + 2 < head.size();) {
    std::size_t end = head.find("\r\n", start);
    lines.push_back(head.substr(start, end - start));
    start = end + 2;
  }
  if (lines.empty()) {
    return bad("the request has no request line");
  }
  auto line = parse_request_line(lines.front());
  if (!line) {
    return line.error();
  }
  RequestHead result;
  result.method = std::string(line->method);
  result.target = std::string(line->target);
  result.version = std::string(line->version);
  result.fields.reserve(lines.size() - 1);
  std::optional<std::uint64_t> length;
  int hosts = 0;
  int encodings = 0;
  std::string_view encoding;
  std::string_view content_type;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    std::string_view field = lines[i];
    if (field.front() == ' ' || field.front() == '\t') {
      return bad("a header line is folded onto the next (obs-fold)");
    }
    auto colon = field.find(':');
    if (colon == std::string_view::npos) {
      return bad("a header line has no colon");
    }
    std::string_view name = field.substr(0, colon);
    if (!is_token(name)) {
      return bad("a header's name is not a token (no spaces before the colon)");
    }
    std::string_view value = trim_ows(field.substr(colon + 1));
    if (!std::all_of(value.begin(), value.end(),
                     [](char c) { return is_value_char(static_cast<unsigned char>(c)); })) {
      return bad("a header's value holds a control character");
    }
    result.fields.emplace_back(std::string(name), std::string(value));
    if (value.find('%') != std::string_view::npos && is_decoded(name)) {
      // Some readers (cpp-httplib 0.11.4 among them) percent-decode header values.
      return bad("a percent sign in the " + std::string(name) + " header");
    }
    if (iequals(name, "Content-Length")) {
      auto n = parse_length(value);
      if (!n) {
        return n.error();
      }
      if (length && *length != *n) {
        return bad("two Content-Length headers that differ");
      }
      length = *n;
    } else if (iequals(name, "Transfer-Encoding")) {
      ++encodings;
      encoding = value;
    } else if (iequals(name, "Host")) {
      ++hosts;
    } else if (iequals(name, "Content-Type")) {
      content_type = value;
    } else if (iequals(name, "Content-Encoding") && !iequals(value, "identity")) {
      // Inflated, it would pass every limit on the bytes that came.
      return ApiError{ApiErrorKind::unsupported_media_type,
                      "compressed request bodies are not taken here (Content-Encoding)"};
    } else if (iequals(name, "Origin")) {
      result.origin = std::string(value);
    }
  }
  const bool http11 = line->version == "HTTP/1.1";
  if (http11 && hosts != 1) {
    return bad("an HTTP/1.1 request needs exactly one Host header");
  }
  if (encodings > 0) {
    if (length) {
      return bad("a request may not have both Transfer-Encoding and Content-Length");
    }
    if (!http11) {
      return bad("Transfer-Encoding needs HTTP/1.1");
    }
    if (encodings > 1 || !iequals(encoding, "chunked")) {
      return ApiError{ApiErrorKind::not_implemented,
                      "the only Transfer-Encoding this server takes is chunked"};
    }
    result.chunked = true;
  }
  result.content_length = length.value_or(0);
  // A reader would take a multipart body as form parts, which no route here takes.
  if (istarts_with(content_type, "multipart/")) {
    return ApiError{ApiErrorKind::unsupported_media_type,
                    "multipart bodies are not taken here: send JSON (curl -d '{...}')"};
  }
  return result;
}

}  // namespace livechat::wire
