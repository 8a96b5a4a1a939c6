#pragma once

#include <chrono>
#include <optional>

namespace livechat::client {

// Bounds of the reconnect delay.
struct BackoffPolicy {
  // Short enough that a blip goes unnoticed, long enough not to hammer a restarting server.
  std::chrono::milliseconds initial{500};
  std::chrono::milliseconds max{30'000};
};

// Decides how long to wait before each reconnect: exponential backoff with full jitter, never
// shorter than the server's `retry:`, and back to the start after a healthy stream. It only
// computes; the caller supplies the randomness and does the waiting.
class Backoff {
 public:
  explicit Backoff(BackoffPolicy policy = {}) : m_policy(policy) {}

  // Returns the delay before the next attempt, given a uniform random number in [0, 1).
  std::chrono::milliseconds next(double random);

  // Sets the reconnect delay the server asked for (its `retry:` field).
  void set_server_retry(std::chrono::milliseconds retry) { m_server_retry = retry; }

  // Starts over after a healthy stream.
  void reset() { m_attempts = 0; }

  // Returns how many delays were handed out since the last reset.
  unsigned attempts() const { return m_attempts; }

 private:
  BackoffPolicy m_policy;
  std::optional<std::chrono::milliseconds> m_server_retry;
  unsigned m_attempts = 0;
};

}  // namespace livechat::client
