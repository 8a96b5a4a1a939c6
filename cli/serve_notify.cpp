#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <memory>

#include "cli/addresses.hpp"
#include "cli/command.hpp"
#include "cli/logging.hpp"
#include "cli/open_files.hpp"
#include "cli/service_options.hpp"
#include "cli/stop_signals.hpp"
#include "cli/tls_reload.hpp"
#include "server/redis/feed.hpp"

namespace livechat::cli {
namespace {

struct ServeNotifyOptions {
  CommonOptions common;
  NotifyOptions notify;
  int port = k_default_notify_port;
};

int run_serve_notify(const ServeNotifyOptions& o, const Streams& io) {
  setup_logging(o.common.log_level, o.common.log_format, io.err);
  warn_if_notify_open(o.common);
  ensure_open_files(o.notify.max_clients + k_spare_files);
  StopSignals signals(!o.common.tls_cert.empty());
  server::hub::Hub hub(hub_options(o.notify));
  std::unique_ptr<server::redis::RedisFeed> feed;
  if (!o.notify.redis_url.empty()) {
    feed = std::make_unique<server::redis::RedisFeed>(require_redis(o.notify.redis_url), hub);
  }
  server::service::NotifyService service(hub, notify_service_options(o.notify, o.common),
                                         feed.get());
  server::http::HttpServer http(http_options(o.common, o.port, o.notify.body_bytes));
  service.add_routes(http);
  start_or_throw(http, "notification service");
  const char* stop = signals.wait(tls_reloader(o.common.tls_cert, o.common.tls_key, {&http}));
  spdlog::info("{} received, closing {} streams", stop, hub.subscribers());
  hub.shutdown();
  http.stop();
  return 0;
}

}  // namespace

Command setup_serve_notify(CLI::App& parent) {
  auto options = std::make_shared<ServeNotifyOptions>();
  auto* app = parent.add_subcommand(
      "serve-notify", "Run the notification service: GET /events (SSE), POST /notify");
  add_port_option(*app, "--port", options->port, "Port to listen on", "PORT");
  add_notify_options(*app, options->notify);
  add_notify_body_option(*app, options->notify);
  add_redis_option(*app, options->notify.redis_url);
  add_common_options(*app, options->common);
  return {app, [options](const Streams& io) { return run_serve_notify(*options, io); }};
}

}  // namespace livechat::cli
