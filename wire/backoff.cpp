#include "wire/backoff.hpp"

#include <algorithm>

namespace livechat::wire {

std::chrono::milliseconds Backoff::next(double random) {
  using std::chrono::milliseconds;
  // The ceiling doubles with each attempt up to the maximum; the delay is anywhere below it.
  milliseconds ceiling = m_policy.max;
  if (m_attempts < 32) {
    auto doubled = m_policy.initial.count() * (std::int64_t{1} << m_attempts);
    ceiling = std::min(m_policy.max, milliseconds(doubled));
  }
  ++m_attempts;
  random = std::clamp(random, 0.0, 1.0);
  auto delay =
      milliseconds(static_cast<std::int64_t>(random * static_cast<double>(ceiling.count())));
  if (m_server_retry) {
    delay = std::max(delay, *m_server_retry);
  }
  return delay;
}

}  // namespace livechat::wire
