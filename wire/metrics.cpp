#include "wire/metrics.hpp"

#include <cmath>
#include <cstdio>

namespace livechat::wire::metrics {
namespace {

std::string number(double value) {
  if (std::isinf(value)) {
    return value > 0 ? "+Inf" : "-Inf";
  }
  char buffer[32];
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    std::snprintf(buffer, sizeof buffer, "%.0f", value);
  } else {
    std::snprintf(buffer, sizeof buffer, "%.6g", value);
  }
  return buffer;
}

}  // namespace

std::string label(std::string_view key, std::string_view value) {
  std::string out(key);
  out += "=\"";
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

void Text::declare(std::string_view name, std::string_view help, std::string_view type) {
  if (m_declared.find(name) != m_declared.end()) {
    return;
  }
  m_declared.emplace(name);
  m_out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  m_out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void Text::sample(std::string_view name, double value, std::string_view labels) {
  m_out.append(name);
  if (!labels.empty()) {
    m_out.append("{").append(labels).append("}");
  }
  m_out.append(" ").append(number(value)).append("\n");
}

void Text::counter(std::string_view name, std::string_view help, double value,
                   std::string_view labels) {
  declare(name, help, "counter");
  sample(name, value, labels);
}

void Text::gauge(std::string_view name, std::string_view help, double value,
                 std::string_view labels) {
  declare(name, help, "gauge");
  sample(name, value, labels);
}

void Histogram::observe(double seconds) {
  std::size_t bucket = 0;
  while (bucket < k_bounds.size() && seconds > k_bounds[bucket]) {
    ++bucket;
  }
  m_buckets[bucket].fetch_add(1, std::memory_order_relaxed);
  m_sum_nanos.fetch_add(static_cast<std::uint64_t>(std::llround(std::max(0.0, seconds) * 1e9)),
                        std::memory_order_relaxed);
  m_count.fetch_add(1, std::memory_order_relaxed);
}

void Histogram::render(Text& text, std::string_view name, std::string_view labels) const {
  const std::string bucket = std::string(name) + "_bucket";
  const std::string prefix = labels.empty() ? "" : std::string(labels) + ",";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i <= k_bounds.size(); ++i) {
    cumulative += m_buckets[i].load(std::memory_order_relaxed);
    double bound = i < k_bounds.size() ? k_bounds[i] : INFINITY;
    text.sample(bucket, static_cast<double>(cumulative), prefix + label("le", number(bound)));
  }
  text.sample(std::string(name) + "_sum",
              static_cast<double>(m_sum_nanos.load(std::memory_order_relaxed)) / 1e9, labels);
  text.sample(std::string(name) + "_count", static_cast<double>(cumulative), labels);
}

}  // namespace livechat::wire::metrics
