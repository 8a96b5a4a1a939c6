#include "client/bench/load.hpp"

#include <dirent.h>
#include <httplib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>

#include "client/bench/bench_publishers.hpp"
#include "client/bench/stream_pool.hpp"
#include "client/publisher.hpp"
#include "wire/http_client.hpp"
#include "wire/message.hpp"

namespace livechat::client::bench {

namespace {

using namespace std::chrono_literals;

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Returns the code of a stream's failure, which the pool reports as text: http_<status> when
// the server answered, else what wire::transport_code() says of the same failure.
std::string failure_code(int status, const std::string& reason) {
  if (status != 0) {
    return "http_" + std::to_string(status);
  }
  if (reason.find("certificate is not trusted") != std::string::npos) {
    return "untrusted_cert";
  }
  if (reason.find("cannot load the CA certificates") != std::string::npos) {
    return "bad_cacert";
  }
  if (reason.find("TLS") != std::string::npos) {
    return "tls_failed";
  }
  return "unreachable";
}

bool is_local(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

// Returns a key that sorts as a timestamp-shaped id (YYYYMMDDhhmmss.ffffff) sorts: its digits
// as one number, the century left out so that it fits. Streams that resume get replays whose
// ids differ from one event to the next, and wire::parse_id's calendar arithmetic on each of
// them was a third of the load tool's time in a reconnect storm.
std::optional<std::uint64_t> id_order(std::string_view id) {
  constexpr std::size_t k_length = 21;
  constexpr std::size_t k_dot = 14;
  if (id.size() != k_length || id[k_dot] != '.') {
    return std::nullopt;
  }
  std::uint64_t key = 0;
  for (std::size_t i = 2; i < k_length; ++i) {
    if (i == k_dot) {
      continue;
    }
    if (id[i] < '0' || id[i] > '9') {
      return std::nullopt;
    }
    key = key * 10 + static_cast<std::uint64_t>(id[i] - '0');
  }
  return key;
}

// What one event loop measures; only its own thread writes the histogram.
struct alignas(64) LoopTally {
  LatencyRecorder latency;
  std::string last_id;  // every listener gets the same message in turn: parse its id once
  std::optional<std::uint64_t> last_stored;
  std::atomic<std::uint64_t> received{0};
  std::atomic<std::int64_t> last_delivery_ns{0};
};

// Turns stream events into deliveries: the tally, latency and counts.
class BenchListener : public StreamHandler {
 public:
  BenchListener(std::size_t listeners, std::size_t messages, std::int64_t start_ns, bool foreign)
      : m_tally(listeners, messages),
        m_listening(listeners),
        m_start_ns(start_ns),
        m_foreign(foreign),
        m_closed_ns(listeners) {
    for (auto& l : m_loops) {
      l = std::make_unique<LoopTally>();
    }
  }

  void on_connected(std::size_t index, std::size_t) override {
    if (m_listening[index].exchange(true) == false) {
      ++m_ever_connected;
      return;
    }
    // A reconnect: the stream is back, `away` after its cut.
    std::int64_t now_ns = nanos(Clock::now());
    std::int64_t away = now_ns - m_closed_ns[index].load(std::memory_order_relaxed);
    raise(m_longest_away_ns, away);
    raise(m_last_back_ns, now_ns);
  }

  void on_closed(std::size_t index, std::size_t, const std::string&) override {
    std::int64_t now_ns = nanos(Clock::now());
    m_closed_ns[index].store(now_ns, std::memory_order_relaxed);
    std::int64_t none = 0;
    m_first_cut_ns.compare_exchange_strong(none, now_ns);
  }

  void on_event(std::size_t index, std::size_t loop, const wire::sse::Event& event,
                Clock::time_point received) override {
    if (event.type == "reset") {
      ++m_resets;
    }
    if (event.type != "message") {
      return;
    }
    auto payload = m_foreign ? parse_bench_data(event.data) : parse_bench_notification(event.data);
    if (!payload || payload->sent_ns < m_start_ns) {
      return;  // not a message of this run
    }
    auto& l = *m_loops[loop];
    if (!m_foreign && event.id != l.last_id) {
      l.last_id = event.id;
      l.last_stored = id_order(event.id);
    }
    auto order = l.last_stored ? *l.last_stored : payload->seq;
    if (m_tally.record(index, payload->seq, order)) {
      std::int64_t now_ns = nanos(received);
      l.latency.record(static_cast<std::uint64_t>(
          std::max<std::int64_t>(0, (now_ns - payload->sent_ns) / 1000)));
      l.received.fetch_add(1, std::memory_order_relaxed);
      l.last_delivery_ns.store(now_ns, std::memory_order_relaxed);
    }
  }

  void on_failed(std::size_t index, std::size_t, int status, const std::string& reason) override {
    std::lock_guard lock(m_mutex);
    if (m_listening[index].load()) {
      // A cut stream's attempt to come back: it tries again.
      ++m_reconnect_failures[status != 0 ? "HTTP " + std::to_string(status) : reason];
      return;
    }
    if (m_first_failure.message.empty()) {
      m_first_failure = {failure_code(status, reason),
                         status != 0 && reason.rfind("HTTP", 0) != 0
                             ? reason + " (HTTP " + std::to_string(status) + ")"
                             : reason};
    }
  }

  std::uint64_t received() const {
    return m_loops[0]->received.load() + m_loops[1]->received.load();
  }
  std::size_t ever_connected() const { return m_ever_connected.load(); }
  std::size_t resets() const { return m_resets.load(); }
  std::map<std::string, std::size_t> reconnect_failures() const {
    std::lock_guard lock(m_mutex);
    return m_reconnect_failures;
  }
  wire::Error first_failure() const {
    std::lock_guard lock(m_mutex);
    return m_first_failure;
  }
  std::int64_t last_delivery_ns() const {
    return std::max(m_loops[0]->last_delivery_ns.load(), m_loops[1]->last_delivery_ns.load());
  }
  LatencyRecorder latency() const {
    LatencyRecorder all = m_loops[0]->latency;
    all.merge(m_loops[1]->latency);
    return all;
  }
  std::vector<bool> listening() const {
    std::vector<bool> out(m_listening.size());
    for (std::size_t i = 0; i < out.size(); ++i) {
      out[i] = m_listening[i].load();
    }
    return out;
  }
  const DeliveryTally& tally() const { return m_tally; }
  // The first time a stream was cut (0: never), and the last time one came back.
  std::int64_t first_cut_ns() const { return m_first_cut_ns.load(); }
  std::int64_t last_back_ns() const { return m_last_back_ns.load(); }
  std::int64_t longest_away_ns() const { return m_longest_away_ns.load(); }

 private:
  static void raise(std::atomic<std::int64_t>& value, std::int64_t to) {
    std::int64_t seen = value.load(std::memory_order_relaxed);
    while (seen < to && !value.compare_exchange_weak(seen, to)) {
    }
  }

  DeliveryTally m_tally;
  std::vector<std::atomic<bool>> m_listening;
  std::int64_t m_start_ns;
  bool m_foreign;  // a server that is not livechat: raw data, no livechat ids
  std::unique_ptr<LoopTally> m_loops[2];
  std::atomic<std::size_t> m_ever_connected{0};
  std::atomic<std::size_t> m_resets{0};
  std::vector<std::atomic<std::int64_t>> m_closed_ns;  // per listener: when it was last cut
  std::atomic<std::int64_t> m_first_cut_ns{0};
  std::atomic<std::int64_t> m_last_back_ns{0};
  std::atomic<std::int64_t> m_longest_away_ns{0};
  mutable std::mutex m_mutex;
  wire::Error m_first_failure;
  std::map<std::string, std::size_t> m_reconnect_failures;  // why, and how often
};

// Keeps the peak memory and thread count of a local server process.
class ServerWatch {
 public:
  explicit ServerWatch(const wire::Endpoint& endpoint) {
    if (is_local(endpoint.host)) {
      m_pid = find_listening_pid(endpoint.port);
    }
  }

  void sample() {
    if (!m_pid) {
      return;
    }
    if (auto now = sample_process(*m_pid)) {
      if (!m_peak) {
        m_peak = *now;
        m_peak->start_rss_mb = now->peak_rss_mb;
      }
      m_peak->peak_rss_mb = std::max(m_peak->peak_rss_mb, now->peak_rss_mb);
      m_peak->peak_threads = std::max(m_peak->peak_threads, now->peak_threads);
    }
  }

  const std::optional<ServerSample>& peak() const { return m_peak; }

 private:
  std::optional<int> m_pid;
  std::optional<ServerSample> m_peak;
};

}  // namespace

wire::Result<BenchReport, BenchFailure> run_bench(const BenchConfig& config,
                                                  const BenchProgressHandler& on_progress) {
  using Side = BenchFailure::Side;
  constexpr auto k_tick = 50ms;
  constexpr auto k_progress_every = 250ms;
  const auto start = Clock::now();
  const auto deadline = start + config.time_limit;
  // The tally keeps a bit per listener and message: a quarter of a gigabyte at most.
  constexpr double k_max_deliveries = 2e9;
  if (static_cast<double>(config.listeners) * static_cast<double>(config.messages) >
      k_max_deliveries) {
    return BenchFailure{Side::setup,
                        {"too_large", "listeners times messages is over 2,000,000,000 deliveries"}};
  }
  BenchReport report;
  report.listeners = config.listeners;
  report.messages = config.messages;

  const auto stream_endpoints = config.events ? std::vector<wire::Endpoint>{config.events->endpoint}
                                              : config.notify_endpoints;
  if (stream_endpoints.empty()) {
    return BenchFailure{Side::setup, {"no_endpoint", "no notification service to stream from"}};
  }
  const auto& stream_endpoint = stream_endpoints.front();
  ServerWatch server(stream_endpoint);  // the first node's process, when it is local
  server.sample();
  BenchListener listener(config.listeners, config.messages, nanos(start),
                         config.events.has_value());
  StreamPoolConfig pool_config;
  pool_config.endpoints = stream_endpoints;
  pool_config.target =
      config.events ? config.events->target
                    : stream_endpoint.base_path + "/events?room=" + wire::url_encode(config.room);
  pool_config.connected_on_head = config.events.has_value();
  pool_config.streams = config.listeners;
  pool_config.loops = config.loops != 0 ? config.loops : (config.listeners >= 2'000 ? 2 : 1);
  pool_config.connect_timeout = config.connect_timeout;
  pool_config.reconnect = true;
  StreamPool pool(pool_config, listener);
  if (auto error = pool.start()) {
    return BenchFailure{Side::setup, *error};
  }

  std::atomic<bool> stop{false};
  BenchPublishers publishers(config, stop);
  BenchProgress progress;
  auto last_progress = Clock::time_point{};
  // Samples the server and reports progress; tells whether the time limit has passed.
  auto tick = [&] {
    std::this_thread::sleep_for(k_tick);
    server.sample();
    auto now = Clock::now();
    if (on_progress && now - last_progress >= k_progress_every) {
      last_progress = now;
      progress.elapsed_seconds = seconds(now - start);
      progress.connected = pool.connected();
      progress.failed = pool.failed();
      progress.published = publishers.published();
      progress.publish_errors = publishers.errors();
      progress.received = listener.received();
      progress.expected = progress.published * listener.ever_connected();
      on_progress(progress);
    }
    report.timed_out = now >= deadline;
    return !report.timed_out;
  };

  while (pool.pending() > 0 && tick()) {
  }
  report.connect_seconds = seconds(Clock::now() - start);
  report.connected = listener.ever_connected();
  report.connect_failed = config.listeners - report.connected;
  report.connect_error = listener.first_failure();
  if (report.connected == 0 && config.listeners > 0) {
    pool.stop();
    const auto& first = report.connect_error;
    std::string why = first.message.empty() ? "timed out" : first.message;
    // Not one stream opened: the service is taken as unreachable unless TLS is why.
    std::string code = wire::is_transport_code(first.code) ? first.code : "unreachable";
    if (config.events) {
      return BenchFailure{Side::streams,
                          {code, "no stream opened at " + stream_endpoint.origin() +
                                     config.events->target + " (" + why + ")"}};
    }
    return BenchFailure{Side::streams,
                        {code, "no stream opened to the notification service at " +
                                   stream_endpoint.origin() + " (" + why + ")"}};
  }

  progress.phase = BenchProgress::Phase::publishing;
  publishers.start();
  std::atomic<bool> published_all{false};
  std::thread joiner([&] {
    publishers.join();
    published_all = true;
  });
  while (!published_all.load() && tick()) {
  }
  stop = true;
  joiner.join();

  progress.phase = BenchProgress::Phase::draining;
  auto drain_end = std::min(deadline, Clock::now() + config.drain_timeout);
  while (listener.received() < publishers.published() * listener.ever_connected() &&
         Clock::now() < drain_end && tick()) {
  }
  report.open_at_end = pool.connected();
  pool.stop();
  server.sample();

  report.published = publishers.published();
  report.publish_errors = publishers.errors();
  report.publish_error = publishers.first_error();
  if (report.published == 0 && config.messages > 0) {
    if (report.publish_error.message.empty()) {
      return BenchFailure{Side::publishing,
                          {"unpublished", "no message was published in the time limit"}};
    }
    return BenchFailure{Side::publishing, report.publish_error};
  }
  report.publish_seconds = seconds(publishers.finished() - publishers.started());
  report.publish_rate = report.publish_seconds > 0
                            ? static_cast<double>(report.published) / report.publish_seconds
                            : 0;
  report.publish_rtt = publishers.rtt();
  report.deliveries = listener.tally().totals(listener.listening(), publishers.published_set());
  report.latency = listener.latency();
  auto delivering = listener.last_delivery_ns() - nanos(publishers.started());
  report.deliveries_per_second = delivering > 0 ? static_cast<double>(report.deliveries.received) *
                                                      1e9 / static_cast<double>(delivering)
                                                : 0;
  report.reconnects = pool.reconnects();
  report.closed = pool.closed();
  report.resets = listener.resets();
  report.reconnect_failures = listener.reconnect_failures();
  for (const auto& [why, count] : report.reconnect_failures) {
    report.failed_reconnects += count;
  }
  if (listener.first_cut_ns() != 0) {
    report.all_back_seconds = static_cast<double>(std::max<std::int64_t>(
                                  0, listener.last_back_ns() - listener.first_cut_ns())) /
                              1e9;
    report.longest_away_seconds = static_cast<double>(listener.longest_away_ns()) / 1e9;
  }
  report.server = server.peak();
  report.elapsed_seconds = seconds(Clock::now() - start);
  return report;
}

}  // namespace livechat::client::bench
