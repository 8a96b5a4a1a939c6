#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <memory>
#include <utility>

#include "cli/addresses.hpp"
#include "cli/command.hpp"
#include "cli/logging.hpp"
#include "cli/service_options.hpp"
#include "cli/stop_signals.hpp"
#include "cli/store_factory.hpp"
#include "cli/tls_reload.hpp"
#include "server/service/notifier.hpp"

namespace livechat::cli {
namespace {

struct ServeMessageOptions {
  CommonOptions common;
  MessageOptions message;
  int port = k_default_message_port;
};

int run_serve_message(const ServeMessageOptions& o, const Streams& io) {
  setup_logging(o.common.log_level, o.common.log_format, io.err);
  auto notify = require_endpoint(o.message.notify_url, "--notify-url", o.message.notify_cacert);
  StopSignals signals(!o.common.tls_cert.empty());
  auto store = open_store(o.message);
  // With Redis, notification nodes read the stream themselves: no hop to hand messages over.
  std::unique_ptr<server::service::HttpNotifier> notifier;
  if (o.message.redis_url.empty()) {
    server::service::HttpNotifierOptions options;
    options.token = o.common.notify_token;
    notifier = std::make_unique<server::service::HttpNotifier>(notify, options);
  }
  auto service_options = message_service_options(o.message, o.common);
  const std::size_t max_body = service_options.body_limit();
  server::service::MessageService service(*store, notifier.get(), std::move(service_options));
  server::http::HttpServer http(http_options(o.common, o.port, max_body));
  service.add_routes(http);
  start_or_throw(http, "message service");
  if (notifier) {
    spdlog::info("handing messages to the notification service at {}", notify.origin());
  }
  spdlog::info("{} received, stopping",
               signals.wait(tls_reloader(o.common.tls_cert, o.common.tls_key, {&http})));
  http.stop();
  return 0;  // the service's outbox forwards what is still queued as it is destroyed
}

}  // namespace

Command setup_serve_message(CLI::App& parent) {
  auto options = std::make_shared<ServeMessageOptions>();
  auto* app = parent.add_subcommand(
      "serve-message", "Run the message service: POST /messages, GET /messages, GET / (the page)");
  add_port_option(*app, "--port", options->port, "Port to listen on", "PORT");
  add_message_options(*app, options->message, true);
  add_common_options(*app, options->common);
  return {app, [options](const Streams& io) { return run_serve_message(*options, io); }};
}

}  // namespace livechat::cli
