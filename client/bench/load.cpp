#include "client/bench/load.hpp"

#include <dirent.h>
#include <httplib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>

#include "client/bench/stream_pool.hpp"
#include "client/publisher.hpp"
#include "wire/http_client.hpp"
#include "wire/id.hpp"
#include "wire/message.hpp"

namespace livechat::client::bench {

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

std::int64_t nanos(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

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

// What one event loop measures; only its own thread writes the histogram.
struct alignas(64) LoopTally {
  LatencyRecorder latency;
  std::string last_id;  // every listener gets the same message in turn: parse its id once
  std::optional<std::int64_t> last_stored;
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
        m_foreign(foreign) {
    for (auto& l : m_loops) {
      l = std::make_unique<LoopTally>();
    }
  }

  void on_connected(std::size_t index, std::size_t) override {
    if (m_listening[index].exchange(true) == false) {
      ++m_ever_connected;
    }
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
      l.last_stored = wire::parse_id(event.id);
    }
    auto order = l.last_stored ? static_cast<std::uint64_t>(*l.last_stored) : payload->seq;
    if (m_tally.record(index, payload->seq, order)) {
      std::int64_t now_ns = nanos(received);
      l.latency.record(static_cast<std::uint64_t>(
          std::max<std::int64_t>(0, (now_ns - payload->sent_ns) / 1000)));
      l.received.fetch_add(1, std::memory_order_relaxed);
      l.last_delivery_ns.store(now_ns, std::memory_order_relaxed);
    }
  }

  void on_failed(std::size_t, std::size_t, int status, const std::string& reason) override {
    std::lock_guard lock(m_mutex);
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

 private:
  DeliveryTally m_tally;
  std::vector<std::atomic<bool>> m_listening;
  std::int64_t m_start_ns;
  bool m_foreign;  // a server that is not livechat: raw data, no livechat ids
  std::unique_ptr<LoopTally> m_loops[2];
  std::atomic<std::size_t> m_ever_connected{0};
  std::atomic<std::size_t> m_resets{0};
  mutable std::mutex m_mutex;
  wire::Error m_first_failure;
};

// Posts bench payloads to a server that is not livechat over one kept-alive connection.
class ForeignPublisher {
 public:
  ForeignPublisher(const ForeignUrl& url, std::string body_template)
      : m_url(url),
        m_template(std::move(body_template)),
        m_client(wire::make_client(url.endpoint)) {}

  // Posts one payload; any 2xx is a success.
  wire::Result<int> send(const std::string& content) {
    auto body = expand_publish_body(m_template, content);
    auto result = m_client->Post(m_url.target, body, publish_content_type(body));
    if (!result) {
      return wire::Error{"unreachable", "cannot reach " + m_url.endpoint.origin() + m_url.target +
                                            " (" + wire::describe(result.error()) + ")"};
    }
    if (result->status < 200 || result->status > 299) {
      return wire::Error{"http_" + std::to_string(result->status),
                         "the server rejected the message: " + result->body.substr(0, 200) +
                             " (HTTP " + std::to_string(result->status) + ")"};
    }
    return result->status;
  }

 private:
  const ForeignUrl& m_url;
  std::string m_template;
  std::unique_ptr<httplib::Client> m_client;
};

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
  void publish(std::size_t index) {
    Publisher publisher(m_config.message_endpoint);
    std::optional<ForeignPublisher> foreign;
    if (m_config.publish) {
      foreign.emplace(*m_config.publish, m_config.publish_body);
    }
    for (;;) {
      std::size_t seq = m_next.fetch_add(1);
      if (seq >= m_config.messages || m_stop.load() || m_unreachable.load()) {
        break;
      }
      if (m_config.rate > 0) {
        auto due =
            m_start + std::chrono::duration_cast<Clock::duration>(
                          std::chrono::duration<double>(static_cast<double>(seq) / m_config.rate));
        // In slices, so that a stop is seen within one.
        for (auto now = Clock::now(); now < due && !m_stop.load(); now = Clock::now()) {
          std::this_thread::sleep_for(std::min<Clock::duration>(due - now, 50ms));
        }
      }
      auto sent = Clock::now();
      auto content = bench_content(seq, nanos(sent));
      if (m_config.payload_bytes > content.size() + 1) {
        content += ' ';
        content.append(m_config.payload_bytes - content.size(), 'x');
      }
      std::optional<wire::Error> error;
      if (foreign) {
        if (auto result = foreign->send(content); !result) {
          error = result.error();
        }
      } else if (auto result = publisher.send(content, "bench", m_config.room); !result) {
        error = result.error();
      }
      auto done = Clock::now();
      m_rtt[index].record(static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(done - sent).count()));
      std::lock_guard lock(m_mutex);
      m_finished = std::max(m_finished, done);
      if (!error) {
        m_published[seq] = 1;
        ++m_ok;
        continue;
      }
      ++m_errors;
      if (m_first_error.message.empty()) {
        m_first_error = *error;
      }
      // Nothing got through and the service is not there: later messages would not either.
      if (wire::is_transport_code(error->code) && m_ok.load() == 0) {
        m_unreachable = true;
      }
    }
  }

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
  report.server = server.peak();
  report.elapsed_seconds = seconds(Clock::now() - start);
  return report;
}

}  // namespace livechat::client::bench
