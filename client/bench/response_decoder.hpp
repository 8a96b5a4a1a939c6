#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "wire/sse.hpp"

namespace livechat::client::bench {

// Decodes one streaming HTTP/1.1 response (status line, headers, then a chunked or plain body)
// into server-sent events, from bytes split anywhere.
class ResponseDecoder {
 public:
  enum class State { head, body, ended, failed };

  // A response head or chunk-size line longer than this is not one livechat sends.
  static constexpr std::size_t k_max_head_bytes = 64 * 1024;

  // Feeds bytes as they arrive and calls `on_event` for each event they complete.
  State feed(std::string_view bytes, const wire::sse::Parser::Handler& on_event);

  // Returns where the response is.
  State state() const { return m_state; }

  // Returns the HTTP status (0 until the status line has arrived).
  int status() const { return m_status; }

  // Returns why the state is `failed`.
  const std::string& error() const { return m_error; }

  // Returns the event parser (the last event id to resume from).
  const wire::sse::Parser& parser() const { return m_parser; }

  // Starts over for a new response, keeping the last event id.
  void restart();

 private:
  enum class Body { plain, sized, chunk_size, chunk_data, chunk_end, trailers };

  bool take_line(std::string_view& bytes, std::string& line);
  void head_line(const std::string& line);
  void feed_body(std::string_view bytes, const wire::sse::Parser::Handler& on_event);
  void feed_events(std::string_view bytes, const wire::sse::Parser::Handler& on_event);
  void fail(std::string why);

  State m_state = State::head;
  Body m_body = Body::plain;
  int m_status = 0;
  bool m_chunked = false;
  std::optional<std::uint64_t> m_content_length;
  std::uint64_t m_left = 0;
  std::string m_line;
  std::string m_error;
  wire::sse::Parser m_parser;
};

}  // namespace livechat::client::bench
