#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "wire/message.hpp"

namespace livechat::server::hub {

// One event in the log: its place (seq), its message id and room, and its encoded SSE frame.
struct LogEntry {
  std::uint64_t seq = 0;
  std::string id;
  std::string room;
  std::shared_ptr<const std::string> frame;
};

// Bounds of the log of recent events.
struct EventLogLimits {
  // Generous: a client that was away for a few minutes of a busy room still resumes.
  std::size_t max_events = 10'000;
  std::size_t max_bytes = 64 * 1024 * 1024;
};

// Where a resuming stream starts in the log.
struct ResumePoint {
  enum class Kind {
    found,    // the id is held: replay from the event after it
    expired,  // the id is older than anything held: some events are gone
    unknown,  // the id is not held (and not older than what is): cannot tell what was missed
    earlier,  // (a followed stream) the id came before the log: the stream has the gap
  } kind = Kind::unknown;
  std::uint64_t from = 0;  // the seq to deliver from (head() unless found or earlier)
  std::string upto;        // earlier: the gap runs from after the id up to this one, inclusive
};

// The one ordered, shared log of recent events that fan-out (and resume) read from.
class EventLog {
 public:
  explicit EventLog(EventLogLimits limits = {});

  // Appends the messages not already in the log, in order; returns how many were new.
  std::size_t append(const std::vector<wire::Message>& messages);

  // Makes the log a contiguous run of an ordered stream (Redis) whose events up to `origin`
  // came before it: ids then sort in log order, and a resume from before the log is `earlier`.
  void follow_from(std::string origin);

  // Finds where a client that last saw `last_event_id` resumes.
  ResumePoint locate(std::string_view last_event_id) const;

  // Returns the seq the next appended event will get (one past the newest).
  std::uint64_t head() const;

  // Returns the seq of the oldest event still held (equal to head() when empty).
  std::uint64_t tail() const;

  // Copies the entries with seq in [from, to) that are still held, oldest first.
  std::vector<LogEntry> range(std::uint64_t from, std::uint64_t to) const;

  // Returns how many events and bytes are held.
  std::size_t size() const;
  std::size_t bytes() const;

 private:
  void trim_locked();

  EventLogLimits m_limits;
  mutable std::mutex m_mutex;
  std::deque<LogEntry> m_entries;
  std::unordered_map<std::string, std::uint64_t> m_seq_of;  // id -> seq, for what is held
  std::uint64_t m_head = 1;
  std::optional<std::string> m_floor;  // following a stream: the newest id not held
  std::size_t m_bytes = 0;
};

// Encodes an event (a message, an edit, delete or reaction) as the SSE frame subscribers
// receive: its id, its name (`event: edit`) and its notification JSON.
std::string encode_message_frame(const wire::Message& message);

}  // namespace livechat::server::hub
