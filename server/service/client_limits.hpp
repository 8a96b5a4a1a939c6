#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace livechat::server::service {

// A token bucket per client address: each holds at most `burst` tokens and gains `rate` a
// second; a request takes one.
class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  RateLimiter(double rate, double burst);

  // Takes a token for `client`; returns nothing if it had one, or how long until it has.
  std::optional<std::chrono::milliseconds> take(const std::string& client,
                                                Clock::time_point now = Clock::now());

  // Returns how many clients have a bucket (full ones are let go now and then).
  std::size_t clients() const;

 private:
  struct Bucket {
    double tokens = 0;
    Clock::time_point at;
  };

  double m_rate;
  double m_burst;
  mutable std::mutex m_mutex;
  std::unordered_map<std::string, Bucket> m_buckets;
  std::size_t m_takes = 0;
};

// Counts open streams per client address.
class StreamCounter {
 public:
  // Reserves a stream for `client`, released when the returned handle (and its copies) goes;
  // nothing if the client already has `max` open (0: no cap).
  std::shared_ptr<void> reserve(const std::string& client, std::size_t max);

  // Returns how many streams `client` has open.
  std::size_t open(const std::string& client) const;

 private:
  mutable std::mutex m_mutex;
  std::unordered_map<std::string, std::size_t> m_open;
};

}  // namespace livechat::server::service
