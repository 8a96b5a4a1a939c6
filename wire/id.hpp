#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace livechat::wire {

// A message id and the timestamp it was made from.
struct Stamp {
  std::string id;         // "20240101120000.123456": fixed width, so string order is time order
  std::string timestamp;  // "2024-01-01T12:00:00.123456Z"
};

// Returns microseconds since the Unix epoch from the system clock.
std::int64_t system_micros();

// Formats microseconds since the epoch as a message id (YYYYMMDDhhmmss.ffffff, UTC).
std::string format_id(std::int64_t micros);

// Formats microseconds since the epoch as an RFC 3339 UTC timestamp with microseconds.
std::string format_timestamp(std::int64_t micros);

// Parses an id made by format_id back into microseconds since the epoch.
std::optional<std::int64_t> parse_id(std::string_view id);

// Makes unique, strictly increasing ids, also when the clock stands still or goes back.
class IdGenerator {
 public:
  using Clock = std::function<std::int64_t()>;

  explicit IdGenerator(Clock clock = system_micros);

  // Returns the next id: the clock's time, or one microsecond past the last id if later.
  Stamp next();

  // Raises the floor so that every later id sorts after `id` (e.g. the newest stored one).
  void observe(std::string_view id);

 private:
  Clock m_clock;
  std::mutex m_mutex;
  std::int64_t m_last = 0;
};

}  // namespace livechat::wire
