#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/bench/latency_recorder.hpp"
#include "wire/result.hpp"
#include "wire/url.hpp"

#include "client/bench/delivery_tally.hpp"
#include "client/bench/process_stats.hpp"

namespace livechat::client::bench {

// What a bench payload is published as unless told otherwise: the bare payload text.
inline constexpr std::string_view k_default_publish_body = "{content}";

// A URL of a server that is not livechat: where to connect and what path and query to ask for.
struct ForeignUrl {
  wire::Endpoint endpoint;
  std::string target = "/";
};

// What a bench run does.
struct BenchConfig {
  std::size_t listeners = 100;
  std::size_t messages = 1'000;
  double rate = 100;  // messages per second; 0: as fast as the publishers go
  std::size_t publishers = 1;
  wire::Endpoint message_endpoint;  // the message service to publish to
  // Listeners are spread over these notification services in turn (nodes of one deployment).
  std::vector<wire::Endpoint> notify_endpoints;
  std::string room = "bench";
  // Each message's content is padded with spaces and 'x' to this many bytes (0: no padding).
  std::size_t payload_bytes = 0;
  std::chrono::milliseconds time_limit{120'000};
  std::chrono::milliseconds connect_timeout{10'000};
  // How long deliveries may trail the last publish before the missing ones count as lost.
  std::chrono::milliseconds drain_timeout{10'000};
  std::size_t loops = 0;  // event-loop threads for the streams; 0: one per 2,000 listeners, 1-2
  // Streams opened here instead of <notify>/events?room=: connected once their 200 head arrives,
  // payloads found in the raw data, order by sequence number.
  std::optional<ForeignUrl> events;
  // Payloads POSTed here as publish_body with "{content}" replaced, instead of to /messages;
  // any 2xx counts.
  std::optional<ForeignUrl> publish;
  std::string publish_body{k_default_publish_body};
};

// Where a run is, for a live progress line.
struct BenchProgress {
  enum class Phase { connecting, publishing, draining } phase = Phase::connecting;
  double elapsed_seconds = 0;
  std::size_t connected = 0;
  std::size_t failed = 0;
  std::size_t published = 0;
  std::size_t publish_errors = 0;
  std::uint64_t received = 0;
  std::uint64_t expected = 0;
};

// What a run measured; durations in the histograms are in microseconds.
struct BenchReport {
  std::size_t listeners = 0;
  std::size_t connected = 0;
  std::size_t connect_failed = 0;
  wire::Error connect_error;  // the first failure
  double connect_seconds = 0;
  std::size_t messages = 0;
  std::size_t published = 0;
  std::size_t publish_errors = 0;
  wire::Error publish_error;  // the first failure
  double publish_seconds = 0;
  double publish_rate = 0;
  LatencyRecorder publish_rtt;
  DeliveryTotals deliveries;
  double deliveries_per_second = 0;
  LatencyRecorder latency;
  std::size_t reconnects = 0;
  std::size_t closed = 0;
  std::size_t resets = 0;  // `reset` events: a resumed stream could not be given what it missed
  std::size_t failed_reconnects = 0;  // attempts to reopen a cut stream that failed (and retried)
  std::map<std::string, std::size_t> reconnect_failures;  // why they failed, and how often
  std::size_t open_at_end = 0;                            // streams open when the run ended
  // From the first cut of a stream to the last reconnect of one (0 if none was cut): after a
  // restart of the server, how long until every stream was back.
  double all_back_seconds = 0;
  double longest_away_seconds = 0;  // the longest one stream was away
  std::optional<ServerSample> server;
  bool timed_out = false;
  double elapsed_seconds = 0;
};

// Why a run measured nothing: the error, and the side of the run it came from.
struct BenchFailure {
  // setup: the configuration or the machine; streams: no stream connected; publishing: no
  // message was published.
  enum class Side { setup, streams, publishing } side = Side::setup;
  wire::Error error;
};

using BenchProgressHandler = std::function<void(const BenchProgress&)>;

// Opens the streams, publishes at the configured rate and measures the deliveries; a failure
// when no stream connects or no message can be published.
wire::Result<BenchReport, BenchFailure> run_bench(const BenchConfig& config,
                                                  const BenchProgressHandler& on_progress = {});

}  // namespace livechat::client::bench
