#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <algorithm>
#include <memory>
#include <string>

#include "cli/addresses.hpp"
#include "cli/command.hpp"
#include "cli/logging.hpp"
#include "cli/open_files.hpp"
#include "cli/service_options.hpp"
#include "cli/stop_signals.hpp"
#include "cli/store_factory.hpp"
#include "cli/tls_reload.hpp"
#include "server/redis/feed.hpp"
#include "server/service/log_fill.hpp"
#include "server/service/notifier.hpp"

namespace livechat::cli {
namespace {

struct ServeOptions {
  CommonOptions common;
  MessageOptions message;
  NotifyOptions notify;
  int port = k_default_message_port;
  int notify_port = k_default_notify_port;
  std::string public_notify_url;
  // Messages go from one service to the other in memory, so POST /notify is served only when
  // asked for (or with --notify-token): otherwise anyone who reaches the port could broadcast.
  bool expose_notify = false;
};

// Returns the URL of a service of this process on `port`, as seen from this machine.
std::string local_url(const CommonOptions& common, int port) {
  return std::string(common.tls_cert.empty() ? "http" : "https") +
         "://localhost:" + std::to_string(port);
}

int run_serve(const ServeOptions& o, const Streams& io) {
  setup_logging(o.common.log_level, o.common.log_format, io.err);
  ensure_open_files(o.notify.max_clients + k_spare_files);
  StopSignals signals(!o.common.tls_cert.empty());
  auto store = open_store(o.message);  // first: a bad --db stops it before anything listens
  server::hub::Hub hub(hub_options(o.notify));
  // With Redis this process is one node of a deployment: the hub follows the shared stream.
  std::unique_ptr<server::redis::RedisFeed> feed;
  if (!o.message.redis_url.empty()) {
    feed = std::make_unique<server::redis::RedisFeed>(require_redis(o.message.redis_url), hub);
  } else if (auto filled = server::service::fill_from_store(hub, *store, o.notify.log_events)) {
    // Before either service listens: a stream resuming across a restart is replayed what it
    // missed, not reset. What the outbox forwards again at start is already there and skipped.
    spdlog::info("event log filled with {} messages from the store", filled->messages);
  } else {
    spdlog::warn("starting with an empty event log ({}): streams that resume get a reset",
                 filled.error().message);
  }
  auto notify_options = notify_service_options(o.notify, o.common);
  notify_options.notify_route = o.expose_notify || !o.common.notify_token.empty();
  if (notify_options.notify_route) {
    warn_if_notify_open(o.common);
  }
  server::service::NotifyService notify_service(hub, notify_options, feed.get());
  const std::size_t message_body = message_service_options(o.message, o.common).body_limit();
  server::http::HttpServer notify_http(
      http_options(o.common, o.notify_port, std::max(o.notify.body_bytes, message_body)));
  notify_service.add_routes(notify_http);
  int notify_port = start_or_throw(notify_http, "notification service");

  server::service::HubNotifier notifier(hub);  // in process: no HTTP hop between the two
  MessageOptions message = o.message;
  message.public_notify_url =
      o.public_notify_url.empty() ? local_url(o.common, notify_port) : o.public_notify_url;
  server::service::MessageService message_service(*store, feed ? nullptr : &notifier,
                                                  message_service_options(message, o.common));
  server::http::HttpServer message_http(http_options(o.common, o.port, message_body));
  message_service.add_routes(message_http);
  int port = start_or_throw(message_http, "message service");
  spdlog::info("chat page at {}/", local_url(o.common, port));

  spdlog::info("{} received, stopping",
               signals.wait(tls_reloader(o.common.tls_cert, o.common.tls_key,
                                         {&notify_http, &message_http})));
  message_http.stop();
  hub.shutdown();
  notify_http.stop();
  return 0;
}

}  // namespace

Command setup_serve(CLI::App& parent) {
  auto options = std::make_shared<ServeOptions>();
  auto* app = parent.add_subcommand(
      "serve", "Run both services in one process (the embedded default: livechat serve)");
  add_port_option(*app, "--port", options->port, "Message service port", "PORT");
  add_port_option(*app, "--notify-port", options->notify_port, "Notification service port",
                  "LIVECHAT_NOTIFY_PORT");
  app->add_option(
         "--public-notify-url", options->public_notify_url,
         "Notification service URL for browsers (default: http[s]://localhost:<notify-port>)")
      ->envname("LIVECHAT_PUBLIC_NOTIFY_URL");
  app->add_flag("--expose-notify", options->expose_notify,
                "Serve POST /notify on the notification port too (also served with "
                "--notify-token); without either it is a 404")
      ->envname("LIVECHAT_EXPOSE_NOTIFY");
  add_message_options(*app, options->message, false);
  add_notify_options(*app, options->notify);
  add_common_options(*app, options->common);
  return {app, [options](const Streams& io) { return run_serve(*options, io); }};
}

}  // namespace livechat::cli
