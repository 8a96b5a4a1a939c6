#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <memory>

#include "cli/command.hpp"
#include "cli/service_options.hpp"

namespace livechat::cli {
namespace {

struct ServeNotifyOptions {
  CommonOptions common;
  NotifyOptions notify;
  int port = k_default_notify_port;
};

// Sockets beyond the streams themselves: publishers, health checks, the listener.
constexpr std::size_t k_spare_files = 256;

int run_serve_notify(const ServeNotifyOptions& o) {
  setup_logging(o.common.log_level);
  raise_open_files_limit(o.notify.max_clients + k_spare_files);
  StopSignals signals;
  server::Hub hub(hub_options(o.notify));
  server::NotifyService service(hub, notify_service_options(o.notify));
  wire::HttpServer http(http_options(o.common, o.port, k_notify_max_body));
  service.install(http);
  start_or_throw(http, "notification service");
  int signal = signals.wait();
  spdlog::info("{} received, closing {} streams", signal == SIGINT ? "SIGINT" : "SIGTERM",
               hub.subscribers());
  hub.shutdown();
  http.stop();
  return 0;
}

}  // namespace

Command setup_serve_notify(CLI::App& parent) {
  auto options = std::make_shared<ServeNotifyOptions>();
  auto* app = parent.add_subcommand(
      "serve-notify", "Run the notification service: GET /events (SSE), POST /notify");
  app->add_option("--port", options->port, "Port to listen on (0: any free port)")
      ->envname("PORT")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  add_notify_options(*app, options->notify);
  add_common_options(*app, options->common);
  return {app, [options] { return run_serve_notify(*options); }};
}

}  // namespace livechat::cli
