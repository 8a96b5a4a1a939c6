#include "client/bench/response_decoder.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "wire/http_head.hpp"

namespace livechat::client::bench {

void ResponseDecoder::restart() {
  m_state = State::head;
  m_body = Body::plain;
  m_status = 0;
  m_chunked = false;
  m_content_length.reset();
  m_left = 0;
  m_line.clear();
  m_error.clear();
  m_parser.reset_partial();
}

void ResponseDecoder::fail(std::string why) {
  m_state = State::failed;
  m_error = std::move(why);
}

bool ResponseDecoder::take_line(std::string_view& bytes, std::string& line) {
  auto end = bytes.find('\n');
  m_line.append(bytes.substr(0, end));
  bytes.remove_prefix(end == std::string_view::npos ? bytes.size() : end + 1);
  // Checked whether or not the line is complete, so where the bytes split cannot matter.
  if (m_line.size() > k_max_head_bytes) {
    fail("the response has a line longer than " + std::to_string(k_max_head_bytes) + " bytes");
    return false;
  }
  if (end == std::string_view::npos) {
    return false;
  }
  if (!m_line.empty() && m_line.back() == '\r') {
    m_line.pop_back();
  }
  line = std::move(m_line);
  m_line.clear();
  return true;
}

void ResponseDecoder::head_line(const std::string& line) {
  if (m_status == 0) {
    // HTTP/1.1 200 OK
    auto space = line.find(' ');
    int status = 0;
    if (line.rfind("HTTP/", 0) == 0 && space != std::string::npos && line.size() >= space + 4) {
      std::from_chars(line.data() + space + 1, line.data() + space + 4, status);
    }
    if (status < 100 || status > 999) {
      fail("the reply is not HTTP: '" + line.substr(0, 64) + "'");
      return;
    }
    m_status = status;
    return;
  }
  if (line.empty()) {
    if (m_status != 200) {
      fail("HTTP " + std::to_string(m_status));
      return;
    }
    m_state = State::body;
    if (m_chunked) {
      m_body = Body::chunk_size;
    } else if (m_content_length) {
      m_body = Body::sized;
      m_left = *m_content_length;
    }
    return;
  }
  auto colon = line.find(':');
  if (colon == std::string::npos) {
    return;
  }
  std::string_view name = wire::trim_ows(std::string_view(line).substr(0, colon));
  std::string_view value = wire::trim_ows(std::string_view(line).substr(colon + 1));
  if (wire::iequals(name, "Transfer-Encoding")) {
    m_chunked = value.size() >= 7 && wire::iequals(value.substr(value.size() - 7), "chunked");
  } else if (wire::iequals(name, "Content-Length")) {
    std::uint64_t length = 0;
    std::from_chars(value.data(), value.data() + value.size(), length);
    m_content_length = length;
  }
}

ResponseDecoder::State ResponseDecoder::feed(std::string_view bytes,
                                             const wire::sse::Parser::Handler& on_event) {
  std::string line;
  while (m_state == State::head && !bytes.empty()) {
    if (take_line(bytes, line)) {
      head_line(line);
    }
  }
  if (m_state == State::body && !bytes.empty()) {
    feed_body(bytes, on_event);
  }
  if (m_state == State::body && m_body == Body::sized && m_left == 0) {
    m_state = State::ended;
  }
  return m_state;
}

void ResponseDecoder::feed_events(std::string_view bytes,
                                  const wire::sse::Parser::Handler& on_event) {
  if (!m_parser.feed(bytes, on_event)) {
    fail("the stream sent a line too long to be an event");
  }
}

void ResponseDecoder::feed_body(std::string_view bytes,
                                const wire::sse::Parser::Handler& on_event) {
  std::string line;
  while (m_state == State::body && !bytes.empty()) {
    switch (m_body) {
      case Body::plain:
        feed_events(bytes, on_event);
        return;
      case Body::sized: {
        auto n = static_cast<std::size_t>(std::min<std::uint64_t>(m_left, bytes.size()));
        m_left -= n;
        feed_events(bytes.substr(0, n), on_event);
        return;
      }
      case Body::chunk_size: {
        if (!take_line(bytes, line)) {
          break;
        }
        // 1a3f;name=value: the size in hex, then extensions to ignore.
        std::string_view digits = wire::trim_ows(std::string_view(line).substr(0, line.find(';')));
        auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), m_left, 16);
        if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size()) {
          fail("bad chunk size line '" + line.substr(0, 64) + "'");
          break;
        }
        m_body = m_left == 0 ? Body::trailers : Body::chunk_data;
        break;
      }
      case Body::chunk_data: {
        auto n = static_cast<std::size_t>(std::min<std::uint64_t>(m_left, bytes.size()));
        m_left -= n;
        feed_events(bytes.substr(0, n), on_event);
        bytes.remove_prefix(n);
        if (m_left == 0) {
          m_body = Body::chunk_end;
        }
        break;
      }
      case Body::chunk_end:
        if (take_line(bytes, line)) {
          if (!line.empty()) {
            fail("a chunk is longer than its size says");
          }
          m_body = Body::chunk_size;
        }
        break;
      case Body::trailers:
        if (take_line(bytes, line) && line.empty()) {
          m_state = State::ended;
        }
        break;
    }
  }
}

}  // namespace livechat::client::bench
