#include "client/bench/latency_recorder.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace livechat::client::bench {

std::size_t LatencyRecorder::index_of(std::uint64_t value) {
  value = std::min(value, k_highest);
  if (value < 2 * k_half) {
    return static_cast<std::size_t>(value);
  }
  // The top k_sub_bucket_bits bits of the value pick its bucket; the bits below are dropped.
  auto shift = static_cast<std::size_t>(std::bit_width(value)) - k_sub_bucket_bits;
  return shift * k_half + static_cast<std::size_t>(value >> shift);
}

std::uint64_t LatencyRecorder::middle_of(std::size_t index) {
  if (index < 2 * k_half) {
    return index;
  }
  std::size_t shift = index / k_half - 1;
  std::uint64_t low = static_cast<std::uint64_t>(index - shift * k_half) << shift;
  return low + ((std::uint64_t{1} << shift) >> 1);
}

void LatencyRecorder::record(std::uint64_t value) {
  ++m_counts[index_of(value)];
  m_min = m_count == 0 ? value : std::min(m_min, value);
  m_max = std::max(m_max, value);
  m_sum += static_cast<long double>(value);
  ++m_count;
}

void LatencyRecorder::merge(const LatencyRecorder& other) {
  if (other.m_count == 0) {
    return;
  }
  for (std::size_t i = 0; i < k_buckets; ++i) {
    m_counts[i] += other.m_counts[i];
  }
  m_min = m_count == 0 ? other.m_min : std::min(m_min, other.m_min);
  m_max = std::max(m_max, other.m_max);
  m_sum += other.m_sum;
  m_count += other.m_count;
}

std::uint64_t LatencyRecorder::percentile(double percent) const {
  if (m_count == 0) {
    return 0;
  }
  if (percent >= 100.0) {
    return m_max;
  }
  double wanted = std::ceil(std::max(percent, 0.0) / 100.0 * static_cast<double>(m_count));
  auto rank = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(wanted));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < k_buckets; ++i) {
    seen += m_counts[i];
    if (seen >= rank) {
      return std::clamp(middle_of(i), m_min, m_max);
    }
  }
  return m_max;
}

double LatencyRecorder::mean() const {
  return m_count == 0 ? 0.0 : static_cast<double>(m_sum / static_cast<long double>(m_count));
}

}  // namespace livechat::client::bench
