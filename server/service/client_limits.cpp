#include "server/service/client_limits.hpp"

#include <algorithm>
#include <cmath>

namespace livechat::server::service {
namespace {

// Full buckets are let go every this many takes, so memory follows the clients of late.
constexpr std::size_t k_prune_every = 4096;

}  // namespace

RateLimiter::RateLimiter(double rate, double burst) : m_rate(rate), m_burst(std::max(1.0, burst)) {}

std::optional<std::chrono::milliseconds> RateLimiter::take(const std::string& client,
                                                           Clock::time_point now) {
  std::lock_guard lock(m_mutex);
  if (++m_takes % k_prune_every == 0) {
    for (auto it = m_buckets.begin(); it != m_buckets.end();) {
      double seconds = std::chrono::duration<double>(now - it->second.at).count();
      it = it->second.tokens + seconds * m_rate >= m_burst ? m_buckets.erase(it) : std::next(it);
    }
  }
  auto [it, fresh] = m_buckets.try_emplace(client, Bucket{m_burst, now});
  Bucket& bucket = it->second;
  if (!fresh) {
    double seconds = std::max(0.0, std::chrono::duration<double>(now - bucket.at).count());
    bucket.tokens = std::min(m_burst, bucket.tokens + seconds * m_rate);
    bucket.at = now;
  }
  if (bucket.tokens >= 1.0) {
    bucket.tokens -= 1.0;
    return std::nullopt;
  }
  double wait = (1.0 - bucket.tokens) / m_rate;
  return std::chrono::milliseconds(static_cast<long>(std::ceil(wait * 1000)));
}

std::size_t RateLimiter::clients() const {
  std::lock_guard lock(m_mutex);
  return m_buckets.size();
}

std::shared_ptr<void> StreamCounter::reserve(const std::string& client, std::size_t max) {
  {
    std::lock_guard lock(m_mutex);
    auto& open = m_open[client];
    if (max != 0 && open >= max) {
      if (open == 0) {
        m_open.erase(client);
      }
      return nullptr;
    }
    ++open;
  }
  // Points at the counter (never deleted through it); the deleter gives the place back.
  return std::shared_ptr<void>(this, [this, client](void*) {
    std::lock_guard lock(m_mutex);
    if (auto it = m_open.find(client); it != m_open.end() && --it->second == 0) {
      m_open.erase(it);
    }
  });
}

std::size_t StreamCounter::open(const std::string& client) const {
  std::lock_guard lock(m_mutex);
  auto it = m_open.find(client);
  return it == m_open.end() ? 0 : it->second;
}

}  // namespace livechat::server::service
