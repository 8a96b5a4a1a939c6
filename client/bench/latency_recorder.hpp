#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace livechat::client::bench {

// Counts durations in microseconds in log-linear buckets (HdrHistogram's layout): values below
// 256 are exact, larger ones fall in buckets 1/128 of their magnitude wide, so any figure it
// reports is within 0.4% of a recorded value. Memory is fixed, whatever the number of samples.
class LatencyRecorder {
 public:
  // The largest value told apart from larger ones: about 19 hours in microseconds.
  static constexpr int k_value_bits = 36;
  static constexpr std::uint64_t k_highest = (std::uint64_t{1} << k_value_bits) - 1;

  // Records one value; values above k_highest count in the top bucket (max() stays exact).
  void record(std::uint64_t value);

  // Adds every value recorded in another histogram.
  void merge(const LatencyRecorder& other);

  // Returns how many values were recorded.
  std::uint64_t count() const { return m_count; }

  // Returns the value below which `percent` percent of the values fall (0 when empty).
  std::uint64_t percentile(double percent) const;

  // Returns the smallest recorded value (0 when empty).
  std::uint64_t min() const { return m_count == 0 ? 0 : m_min; }

  // Returns the largest recorded value (0 when empty).
  std::uint64_t max() const { return m_max; }

  // Returns the exact mean of the recorded values (0 when empty).
  double mean() const;

 private:
  static constexpr int k_sub_bucket_bits = 8;
  static constexpr std::size_t k_half = std::size_t{1} << (k_sub_bucket_bits - 1);
  static constexpr std::size_t k_buckets = (k_value_bits - k_sub_bucket_bits + 2) * k_half;

  static std::size_t index_of(std::uint64_t value);
  static std::uint64_t middle_of(std::size_t index);

  std::array<std::uint64_t, k_buckets> m_counts{};
  std::uint64_t m_count = 0;
  std::uint64_t m_min = 0;
  std::uint64_t m_max = 0;
  long double m_sum = 0;
};

}  // namespace livechat::client::bench
