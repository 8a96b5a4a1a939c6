#pragma once

#include <chrono>
#include <optional>

namespace livechat::wire {

// Bounds of a retry delay. The defaults are a client's reconnect; www/index.html's
// scheduleReconnect() has the same shape and numbers (it cannot share this code: keep them alike).
struct BackoffPolicy {
  // Short enough that a blip goes unnoticed, long enough not to hammer a restarting server.
  std::chrono::milliseconds initial{500};
  std::chrono::milliseconds max{30'000};
};

// Decides how long to wait before each retry: exponential backoff with full jitter, never
// shorter than the server's `retry:`, and back to the start after a success. It only computes;
// the caller supplies the randomness and does the waiting.
class Backoff {
 public:
  explicit Backoff(BackoffPolicy policy = {}) : m_policy(policy) {}

  // Returns the delay before the next attempt, given a uniform random number in [0, 1).
  std::chrono::milliseconds next(double random);

  // Returns the delay before the next attempt without jitter: the ceiling itself (a server's
  // retry of its one peer, where no crowd of clients needs spreading out).
  std::chrono::milliseconds next_ceiling() { return next(1.0); }

  // Sets the reconnect delay the server asked for (its `retry:` field).
  void set_server_retry(std::chrono::milliseconds retry) { m_server_retry = retry; }

  // Starts over after a healthy stream or a success.
  void reset() { m_attempts = 0; }

  // Returns how many delays were handed out since the last reset.
  unsigned attempts() const { return m_attempts; }

 private:
  BackoffPolicy m_policy;
  std::optional<std::chrono::milliseconds> m_server_retry;
  unsigned m_attempts = 0;
};

}  // namespace livechat::wire
