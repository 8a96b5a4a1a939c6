#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace livechat::wire::sse {

// One dispatched server-sent event.
struct Event {
  std::string id;    // the stream's last event id when this event was dispatched
  std::string type;  // "message" unless the event named another
  std::string data;
};

// Encodes one event; multi-line data becomes several data: lines.
std::string encode_event(std::string_view id, std::string_view type, std::string_view data);

// Encodes a comment line (ignored by clients, keeps the stream alive).
std::string encode_comment(std::string_view text);

// Encodes the reconnection delay a client should use, in milliseconds.
std::string encode_retry(long milliseconds);

// Parses an event stream incrementally, in chunks split anywhere (WHATWG HTML rules).
class Parser {
 public:
  using Handler = std::function<void(const Event&)>;

  // A line or an event's data longer than this is a broken stream, not a chat message.
  static constexpr std::size_t k_max_line_bytes = 8 * 1024 * 1024;

  // Feeds bytes and calls `on_event` for each event they complete; false if the stream broke
  // the line length bound (the parser is then reset).
  bool feed(std::string_view chunk, const Handler& on_event);

  // Returns the last event id as of the last complete event (what to send as Last-Event-ID).
  const std::string& last_event_id() const { return m_last_event_id; }

  // Returns the reconnection delay the server asked for, if it did.
  std::optional<long> retry_ms() const { return m_retry_ms; }

  // Returns how many comment lines were seen.
  std::size_t comments() const { return m_comments; }

  // Forgets any partial line and event, keeping the last event id (as on a reconnect).
  void reset_partial();

 private:
  void process_line(std::string_view line, const Handler& on_event);

  std::string m_line;
  std::string m_data;
  std::string m_type;
  std::string m_id_buffer;      // the last id: field seen
  std::string m_last_event_id;  // that id, once an event boundary passed
  std::optional<long> m_retry_ms;
  std::size_t m_comments = 0;
  bool m_after_cr = false;
  bool m_overflow = false;
  bool m_started = false;
  std::size_t m_bom_bytes = 0;
};

}  // namespace livechat::wire::sse
