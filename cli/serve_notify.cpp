#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "cli/addresses.hpp"
#include "cli/command.hpp"
#include "cli/flag_hints.hpp"
#include "cli/logging.hpp"
#include "cli/open_files.hpp"
#include "cli/service_options.hpp"
#include "cli/stop_signals.hpp"
#include "cli/tls_reload.hpp"
#include "server/redis/feed.hpp"
#include "server/service/log_fill.hpp"
#include "wire/token.hpp"

namespace livechat::cli {
namespace {

struct ServeNotifyOptions {
  CommonOptions common;
  NotifyOptions notify;
  int port = k_default_notify_port;
  // Whose history fills the event log at start; empty: it starts empty, as it always did.
  std::string message_url;
  std::string cacert;  // --message-url https://: the CA to trust (empty: the system's)
};

// The user a notification node reads the message service's history as, with --auth-secret.
constexpr std::string_view k_fill_user = "livechat-notify";

// Fills the hub's log with the newest messages of the message service, so a stream resuming
// across a restart of this node is replayed what it missed instead of being reset.
void fill_log(server::hub::Hub& hub, const ServeNotifyOptions& o) {
  auto endpoint = require_endpoint(o.message_url, "--message-url", o.cacert);
  server::service::HistoryFillOptions options;
  options.max_messages = o.notify.log_events;
  if (!o.common.auth_secret.empty()) {
    auto token = wire::mint_token(o.common.auth_secret, k_fill_user, std::chrono::minutes(5));
    if (!token) {
      throw UserError(with_flag_hint(token.error()));
    }
    options.token = *token;
  }
  auto filled = server::service::fill_from_history(hub, endpoint, options);
  if (!filled) {
    spdlog::warn(
        "starting with an empty event log: {}; streams that resume from before this start get "
        "a reset and fetch the history themselves",
        filled.error().message);
    return;
  }
  spdlog::info("event log filled with {} messages from the message service at {}{}",
               filled->messages, endpoint.origin(),
               filled->newest.empty() ? "" : " (newest " + filled->newest + ")");
}

int run_serve_notify(const ServeNotifyOptions& o, const Streams& io) {
  setup_logging(o.common.log_level, o.common.log_format, io.err);
  warn_if_notify_open(o.common);
  ensure_open_files(o.notify.max_clients + k_spare_files);
  StopSignals signals(!o.common.tls_cert.empty());
  server::hub::Hub hub(hub_options(o.notify));
  std::unique_ptr<server::redis::RedisFeed> feed;
  if (!o.notify.redis_url.empty()) {
    feed = std::make_unique<server::redis::RedisFeed>(require_redis(o.notify.redis_url), hub);
    if (!o.message_url.empty()) {
      spdlog::warn("--message-url is not used with --redis: resumes read the Redis stream");
    }
  } else if (!o.message_url.empty()) {
    fill_log(hub, o);  // before it listens: no stream is served from a log still filling
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
  app->add_option("--message-url", options->message_url,
                  "Message service whose newest messages fill the event log at start, so "
                  "streams resume across a restart (default: none, the log starts empty)")
      ->envname("MESSAGE_SERVICE_URL");
  add_cacert_option(*app, options->cacert);
  add_redis_option(*app, options->notify.redis_url);
  add_common_options(*app, options->common);
  return {app, [options](const Streams& io) { return run_serve_notify(*options, io); }};
}

}  // namespace livechat::cli
