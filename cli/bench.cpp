#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "cli/addresses.hpp"
#include "cli/command.hpp"
#include "cli/flag_hints.hpp"
#include "cli/units.hpp"
#include "client/bench/load.hpp"
#include "wire/message.hpp"

namespace livechat::cli {
namespace {

struct BenchOptions {
  std::size_t listeners = client::bench::BenchConfig{}.listeners;
  std::size_t messages = client::bench::BenchConfig{}.messages;
  double rate = client::bench::BenchConfig{}.rate;
  std::size_t publishers = client::bench::BenchConfig{}.publishers;
  std::string message_url = k_default_message_url;
  std::vector<std::string> notify_urls = {k_default_notify_url};
  std::string room = client::bench::BenchConfig{}.room;
  std::size_t payload_bytes = client::bench::BenchConfig{}.payload_bytes;
  double timeout_seconds = seconds(client::bench::BenchConfig{}.time_limit);
  bool json = false;
  std::string events_url;   // a foreign server's SSE stream; empty: livechat's
  std::string publish_url;  // a foreign server's publish endpoint; empty: livechat's
  std::string publish_body = client::bench::BenchConfig{}.publish_body;
  std::string cacert;
};

// Exit code of a run that completed but lost messages, so scripts can tell it from a failure.
constexpr int k_exit_lost = 2;

std::string fixed(double value, int decimals) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  return buffer;
}

// Formats microseconds as milliseconds with two decimals.
std::string ms(std::uint64_t micros) { return fixed(static_cast<double>(micros) / 1000.0, 2); }

double ms_value(std::uint64_t micros) { return static_cast<double>(micros) / 1000.0; }

// Reads a foreign server's URL: the endpoint and the path and query to request.
client::bench::ForeignUrl foreign_url(const std::string& url, const std::string& flag) {
  client::bench::ForeignUrl out;
  out.endpoint = require_endpoint(url, flag);
  auto scheme = url.find("://");
  auto slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  out.target = slash == std::string::npos ? "/" : url.substr(slash, url.find('#') - slash);
  return out;
}

std::string progress_line(const client::bench::BenchProgress& p, std::size_t listeners,
                          std::size_t messages) {
  using Phase = client::bench::BenchProgress::Phase;
  std::string line = fixed(p.elapsed_seconds, 1) + " s  ";
  if (p.phase == Phase::connecting) {
    return line + "connecting: " + std::to_string(p.connected) + "/" + std::to_string(listeners) +
           " streams, " + std::to_string(p.failed) + " failed";
  }
  line += p.phase == Phase::publishing ? "publishing: " : "draining: ";
  return line + std::to_string(p.published) + "/" + std::to_string(messages) + " sent, " +
         std::to_string(p.received) + "/" + std::to_string(p.expected) + " delivered";
}

// The services a run's errors are about: livechat's, unless it was pointed at foreign URLs.
struct BenchServices {
  Service streams = Service::notify;
  Service publishing = Service::message;

  // Returns the service a run that measured nothing failed on.
  Service of(client::bench::BenchFailure::Side side) const {
    using Side = client::bench::BenchFailure::Side;
    return side == Side::streams ? streams : side == Side::publishing ? publishing : Service::none;
  }
};

BenchServices bench_services(const BenchOptions& o) {
  return {o.events_url.empty() ? Service::notify : Service::none,
          o.publish_url.empty() ? Service::message : Service::none};
}

nlohmann::json report_json(const client::bench::BenchReport& r, const BenchServices& services) {
  const auto& d = r.deliveries;
  nlohmann::json server = nullptr;
  if (r.server) {
    server = {{"pid", r.server->pid},
              {"start_rss_mb", std::round(r.server->start_rss_mb * 10) / 10},
              {"peak_rss_mb", std::round(r.server->peak_rss_mb * 10) / 10},
              {"peak_threads", r.server->peak_threads}};
  }
  return {
      {"listeners", r.listeners},
      {"connected", r.connected},
      {"connect_failed", r.connect_failed},
      {"connect_error", with_flag_hint(r.connect_error)},
      {"connect_seconds", r.connect_seconds},
      {"messages", r.messages},
      {"published", r.published},
      {"publish_errors", r.publish_errors},
      {"publish_error", with_flag_hint(r.publish_error, services.publishing)},
      {"publish_seconds", r.publish_seconds},
      {"publish_rate", r.publish_rate},
      {"publish_rtt_ms",
       {{"p50", ms_value(r.publish_rtt.percentile(50))},
        {"p99", ms_value(r.publish_rtt.percentile(99))},
        {"max", ms_value(r.publish_rtt.max())}}},
      {"expected", d.expected},
      {"received", d.received},
      {"lost", d.lost},
      {"duplicated", d.duplicated},
      {"out_of_order", d.out_of_order},
      {"unexpected", d.unexpected},
      {"deliveries_per_second", r.deliveries_per_second},
      {"latency_ms",
       {{"p50", ms_value(r.latency.percentile(50))},
        {"p90", ms_value(r.latency.percentile(90))},
        {"p99", ms_value(r.latency.percentile(99))},
        {"p99_9", ms_value(r.latency.percentile(99.9))},
        {"max", ms_value(r.latency.max())},
        {"mean", std::round(r.latency.mean()) / 1000.0}}},
      {"reconnects", r.reconnects},
      {"closed", r.closed},
      {"resets", r.resets},
      {"failed_reconnects", r.failed_reconnects},
      {"reconnect_failures", r.reconnect_failures},
      {"open_at_end", r.open_at_end},
      {"all_back_seconds", r.all_back_seconds},
      {"longest_away_seconds", r.longest_away_seconds},
      {"server", server},
      {"timed_out", r.timed_out},
      {"elapsed_seconds", r.elapsed_seconds},
  };
}

void print_human(const client::bench::BenchReport& r, std::ostream& out) {
  const auto& d = r.deliveries;
  std::vector<std::pair<std::string, std::string>> lines = {
      {"listeners", std::to_string(r.connected) + " of " + std::to_string(r.listeners) +
                        " connected in " + fixed(r.connect_seconds, 2) + " s, " +
                        std::to_string(r.connect_failed) + " failed"},
      {"published", std::to_string(r.published) + " of " + std::to_string(r.messages) + " in " +
                        fixed(r.publish_seconds, 2) + " s (" + fixed(r.publish_rate, 1) +
                        " msg/s), " + std::to_string(r.publish_errors) + " errors"},
      {"publish rtt", "p50 " + ms(r.publish_rtt.percentile(50)) + " ms, p99 " +
                          ms(r.publish_rtt.percentile(99)) + " ms"},
      {"deliveries", std::to_string(d.received) + " of " + std::to_string(d.expected) + " (" +
                         fixed(r.deliveries_per_second, 0) + "/s)"},
      {"lost", std::to_string(d.lost)},
      {"duplicated", std::to_string(d.duplicated)},
      {"out of order", std::to_string(d.out_of_order)},
      {"latency", "p50 " + ms(r.latency.percentile(50)) + " ms, p90 " +
                      ms(r.latency.percentile(90)) + " ms, p99 " + ms(r.latency.percentile(99)) +
                      " ms, p99.9 " + ms(r.latency.percentile(99.9)) + " ms, max " +
                      ms(r.latency.max()) + " ms"},
      {"reconnects", std::to_string(r.reconnects) + " (" + std::to_string(r.closed) +
                         " streams closed by the server, " + std::to_string(r.resets) +
                         " told to reset)"},
  };
  if (r.closed > 0) {
    lines.emplace_back("resumed",
                       std::to_string(r.open_at_end) + " of " + std::to_string(r.connected) +
                           " streams open at the end; " + "the last came back " +
                           fixed(r.all_back_seconds, 2) + " s after the first cut (longest away " +
                           fixed(r.longest_away_seconds, 2) + " s), " +
                           std::to_string(r.failed_reconnects) + " failed reconnect attempts");
  }
  if (r.server) {
    lines.emplace_back("server", "pid " + std::to_string(r.server->pid) + ", peak RSS " +
                                     fixed(r.server->peak_rss_mb, 1) + " MB (" +
                                     fixed(r.server->start_rss_mb, 1) + " MB at start), " +
                                     std::to_string(r.server->peak_threads) + " threads at most");
  }
  if (r.timed_out) {
    lines.emplace_back("timed out", "yes, after " + fixed(r.elapsed_seconds, 1) + " s");
  }
  for (const auto& [name, value] : lines) {
    std::string label = name + ":";
    label.resize(14, ' ');
    out << label << value << "\n";
  }
  out << std::flush;
}

int run_bench(const BenchOptions& o, const Streams& io) {
  if (!wire::is_valid_room(o.room)) {
    throw UserError("--room: '" + o.room + "' is not a room name (" +
                    std::string(wire::k_room_rule) + ")");
  }
  client::bench::BenchConfig config;
  config.listeners = o.listeners;
  config.messages = o.messages;
  config.rate = o.rate;
  config.publishers = o.publishers;
  config.message_endpoint = require_endpoint(o.message_url, "--message-url", o.cacert);
  for (const auto& url : o.notify_urls) {
    config.notify_endpoints.push_back(require_endpoint(url, "--notify-url", o.cacert));
  }
  config.room = o.room;
  config.payload_bytes = o.payload_bytes;
  config.time_limit = std::chrono::milliseconds(std::lround(o.timeout_seconds * 1000));
  if (!o.events_url.empty()) {
    config.events = foreign_url(o.events_url, "--events-url");
  }
  if (!o.publish_url.empty()) {
    config.publish = foreign_url(o.publish_url, "--publish-url");
    config.publish_body = o.publish_body;
  }

  const bool live = io.err_is_terminal;
  auto on_progress = [&](const client::bench::BenchProgress& p) {
    io.err << "\r" << progress_line(p, o.listeners, o.messages) << "\033[K" << std::flush;
  };
  auto result =
      client::bench::run_bench(config, live ? client::bench::BenchProgressHandler(on_progress)
                                            : client::bench::BenchProgressHandler());
  if (live) {
    io.err << "\r\033[K" << std::flush;
  }
  const auto services = bench_services(o);
  if (!result) {
    throw UserError(with_flag_hint(result.error().error, services.of(result.error().side)));
  }
  const auto& report = *result;
  if (o.json) {
    io.out << report_json(report, services).dump() << "\n" << std::flush;
  } else {
    print_human(report, io.out);
  }
  if (report.connect_failed > 0) {
    throw UserError(std::to_string(report.connect_failed) + " of " +
                    std::to_string(report.listeners) +
                    " streams did not connect: " + with_flag_hint(report.connect_error));
  }
  if (report.publish_errors > 0) {
    throw UserError(std::to_string(report.publish_errors) + " of " +
                    std::to_string(report.messages) + " messages were not published: " +
                    with_flag_hint(report.publish_error, services.publishing));
  }
  if (report.timed_out) {
    throw UserError("the run did not finish within --timeout " + fixed(o.timeout_seconds, 0) +
                    " s");
  }
  return report.deliveries.lost > 0 ? k_exit_lost : 0;
}

}  // namespace

Command setup_bench(CLI::App& parent) {
  auto options = std::make_shared<BenchOptions>();
  auto* app = parent.add_subcommand("bench", "Load both services and report what users see");
  app->footer(
      "Exit status: 0 when every message reached every stream, 2 when the run completed but "
      "lost messages, 1 when streams could not connect or messages could not be published.");
  app->add_option("-n,--listeners", options->listeners, "SSE streams to open and keep open")
      ->check(CLI::Range(std::size_t{1}, std::size_t{100'000}))
      ->capture_default_str();
  app->add_option("-m,--messages", options->messages, "Messages to publish once all are open")
      ->check(CLI::Range(std::size_t{1}, std::size_t{10'000'000}))
      ->capture_default_str();
  app->add_option("--rate", options->rate,
                  "Messages per second to publish (0: as fast as possible)")
      ->check(CLI::Range(0.0, 1e7))
      ->capture_default_str();
  app->add_option("--publishers", options->publishers,
                  "Kept-alive connections that share the publishing")
      ->check(CLI::Range(std::size_t{1}, std::size_t{256}))
      ->capture_default_str();
  add_cacert_option(*app, options->cacert);
  app->add_option("--message-url", options->message_url, "Message service to publish to")
      ->envname("MESSAGE_SERVICE_URL")
      ->capture_default_str();
  app->add_option("--notify-url", options->notify_urls,
                  "Notification service to stream from; repeat it (or give a comma-separated "
                  "list) to spread the listeners over several nodes")
      ->envname("NOTIFICATION_SERVICE_URL")
      ->delimiter(',')
      ->capture_default_str();
  app->add_option("--room", options->room, "Room the bench messages go to")->capture_default_str();
  app->add_option("--payload-bytes", options->payload_bytes,
                  "Pad each message's content to this many bytes (0: no padding)")
      ->check(CLI::Range(std::size_t{0}, std::size_t{16 * 1024 * 1024}))
      ->capture_default_str();
  app->add_option("--timeout", options->timeout_seconds,
                  "Seconds the whole run may take before it stops and reports")
      ->check(CLI::Range(0.1, 86'400.0))
      ->capture_default_str();
  app->add_option("--events-url", options->events_url,
                  "SSE stream of a server that is not livechat, opened by every listener "
                  "(connected on its 200 head; payloads found in the raw data)");
  app->add_option("--publish-url", options->publish_url,
                  "Where to POST each payload on a server that is not livechat (2xx: published)");
  app->add_option("--publish-body", options->publish_body,
                  "Body posted to --publish-url, {content} replaced by the payload (sent as JSON "
                  "when it starts with { or [, else as text/plain)")
      ->capture_default_str();
  app->add_flag("--json", options->json, "Print the report as one JSON object");
  return {app, [options](const Streams& io) { return run_bench(*options, io); }};
}

}  // namespace livechat::cli
