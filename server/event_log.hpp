#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

#include "wire/message.hpp"

namespace livechat::server {

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

// The one ordered, shared log of recent events that fan-out (and resume) read from.
class EventLog {
 public:
  explicit EventLog(EventLogLimits limits = {});

  // Appends the messages not already in the log, in order; returns how many were new.
  std::size_t append(const std::vector<wire::Message>& messages);

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
  std::unordered_set<std::string> m_ids;
  std::uint64_t m_head = 1;
  std::size_t m_bytes = 0;
};

// Encodes a message as the SSE frame subscribers receive.
std::string encode_message_frame(const wire::Message& message);

}  // namespace livechat::server
