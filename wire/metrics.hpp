#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

// Prometheus metrics in the text exposition format (version 0.0.4).
namespace livechat::wire::metrics {

inline constexpr std::string_view k_content_type = "text/plain; version=0.0.4; charset=utf-8";

// Returns `key="value"` with the value escaped as the format wants.
std::string label(std::string_view key, std::string_view value);

// Builds an exposition: each family's HELP and TYPE once, then its samples.
class Text {
 public:
  // Adds a sample of a counter or gauge; `labels` is a comma-separated list of label().
  void counter(std::string_view name, std::string_view help, double value,
               std::string_view labels = "");
  void gauge(std::string_view name, std::string_view help, double value,
             std::string_view labels = "");

  // Declares a family (once) and adds one sample line of it (e.g. a histogram's `_bucket`).
  void declare(std::string_view name, std::string_view help, std::string_view type);
  void sample(std::string_view name, double value, std::string_view labels = "");

  const std::string& str() const { return m_out; }

 private:
  std::set<std::string, std::less<>> m_declared;
  std::string m_out;
};

// A latency histogram with fixed buckets, observed from any thread without a lock.
class Histogram {
 public:
  // Upper bounds in seconds: from half a millisecond (a cached GET) to 5 s (a stuck store).
  static constexpr std::array<double, 12> k_bounds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                      0.05,   0.1,   0.25,   0.5,   1.0,  5.0};

  void observe(double seconds);

  // Adds the family's `_bucket`, `_sum` and `_count` samples with `labels` (declared by caller).
  void render(Text& text, std::string_view name, std::string_view labels) const;

  std::uint64_t count() const { return m_count.load(); }

 private:
  std::array<std::atomic<std::uint64_t>, k_bounds.size() + 1> m_buckets{};
  std::atomic<std::uint64_t> m_sum_nanos{0};
  std::atomic<std::uint64_t> m_count{0};
};

}  // namespace livechat::wire::metrics
