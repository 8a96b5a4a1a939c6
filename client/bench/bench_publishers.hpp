#pragma once

// Private to client/bench's load (load.cpp, bench_publishers.cpp): the publishing side of a
// bench run.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "client/bench/latency_recorder.hpp"
#include "client/bench/load.hpp"

namespace livechat::client::bench {

using Clock = std::chrono::steady_clock;

// Returns a time point in nanoseconds since its clock's epoch.
inline std::int64_t nanos(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

// Posts messages 0..M-1 on a schedule fixed at the start, shared by P kept-alive publishers.
class BenchPublishers {
 public:
  BenchPublishers(const BenchConfig& config, const std::atomic<bool>& stop)
      : m_config(config), m_stop(stop), m_published(config.messages, 0) {}

  void start() {
    m_start = Clock::now();
    std::size_t count = std::max<std::size_t>(1, m_config.publishers);
    m_rtt.resize(count);
    for (std::size_t i = 0; i < count; ++i) {
      m_threads.emplace_back([this, i] { publish(i); });
    }
  }

  void join() {
    for (auto& t : m_threads) {
      t.join();
    }
    m_threads.clear();
  }

  Clock::time_point started() const { return m_start; }
  Clock::time_point finished() const { return m_finished; }
  std::size_t published() const { return m_ok.load(); }
  std::size_t errors() const { return m_errors.load(); }
  wire::Error first_error() const {
    std::lock_guard lock(m_mutex);
    return m_first_error;
  }
  std::vector<bool> published_set() const {
    return std::vector<bool>(m_published.begin(), m_published.end());
  }
  LatencyRecorder rtt() const {
    LatencyRecorder all;
    for (const auto& h : m_rtt) {
      all.merge(h);
    }
    return all;
  }

 private:
  // Posts the messages it takes from the shared schedule until none is left or it stops.
  void publish(std::size_t index);

  const BenchConfig& m_config;
  const std::atomic<bool>& m_stop;
  std::vector<std::uint8_t> m_published;  // one byte per message: publishers write distinct ones
  std::vector<LatencyRecorder> m_rtt;
  std::vector<std::thread> m_threads;
  std::atomic<std::size_t> m_next{0};
  std::atomic<std::size_t> m_ok{0};
  std::atomic<std::size_t> m_errors{0};
  std::atomic<bool> m_unreachable{false};
  Clock::time_point m_start;
  Clock::time_point m_finished;
  mutable std::mutex m_mutex;
  wire::Error m_first_error;
};

}  // namespace livechat::client::bench
