#include "cli/service_options.hpp"

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <cmath>

#include "cli/addresses.hpp"
#include "cli/command.hpp"
#include "cli/flag_hints.hpp"
#include "wire/auth.hpp"
#include "wire/tls.hpp"
#include "www/page.hpp"

namespace livechat::cli {

void add_common_options(CLI::App& app, CommonOptions& o) {
  app.add_option("--host", o.host, "Address to listen on (0.0.0.0: all interfaces)")
      ->envname("LIVECHAT_HOST")
      ->capture_default_str();
  app.add_option("--log-level", o.log_level, "Log level: debug, info, warn or error")
      ->envname("LIVECHAT_LOG_LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}))
      ->capture_default_str();
  app.add_option("--log-format", o.log_format,
                 "Log lines as text, or as json (one object per line: time, level, message)")
      ->envname("LIVECHAT_LOG_FORMAT")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  app.add_option("--cors-origin", o.cors_origins,
                 "Origins browsers may call from (repeatable; * allows any)")
      ->envname("LIVECHAT_CORS_ORIGINS")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--notify-token", o.notify_token,
                 "Secret that POST /notify needs as 'Authorization: Bearer <token>' (the same on "
                 "message and notification services)")
      ->envname("LIVECHAT_NOTIFY_TOKEN");
  app.add_option("--auth-secret", o.auth_secret,
                 "Secret that user tokens are signed with (livechat token); posting, history "
                 "and streams then need one")
      ->envname("LIVECHAT_AUTH_SECRET");
  app.add_option("--tls-cert", o.tls_cert, "PEM certificate chain: serve HTTPS (with --tls-key)")
      ->envname("LIVECHAT_TLS_CERT");
  app.add_option("--tls-key", o.tls_key, "PEM private key of --tls-cert")
      ->envname("LIVECHAT_TLS_KEY");
  app.add_option("--request-timeout", o.request_timeout_seconds,
                 "Seconds a request may take to arrive whole (headers and body); then 408")
      ->envname("LIVECHAT_REQUEST_TIMEOUT")
      ->check(CLI::Range(0.05, 3600.0))
      ->capture_default_str();
  app.add_option("--max-header-bytes", o.max_header_bytes,
                 "Largest request line and headers of a request, in bytes; beyond it, 431")
      ->envname("LIVECHAT_MAX_HEADER_BYTES")
      ->check(CLI::Range(std::size_t{1024}, std::size_t{1024 * 1024}))
      ->capture_default_str();
  app.add_flag("--trust-proxy", o.trust_proxy,
               "Behind a reverse proxy: take a client's address from X-Forwarded-For (for "
               "per-client limits)")
      ->envname("LIVECHAT_TRUST_PROXY");
}

void add_port_option(CLI::App& app, const std::string& name, int& port,
                     const std::string& description, const std::string& env) {
  app.add_option(name, port, description + " (0: any free port)")
      ->envname(env)
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
}

void add_message_options(CLI::App& app, MessageOptions& o, bool with_notify_url) {
  app.add_option("--db", o.db, "SQLite file messages are kept in (:memory: keeps nothing)")
      ->envname("LIVECHAT_DB")
      ->capture_default_str();
  if (with_notify_url) {
    app.add_option("--notify-url", o.notify_url,
                   "Notification service to hand messages to (POST /notify)")
        ->envname("NOTIFICATION_SERVICE_URL")
        ->capture_default_str();
    add_cacert_option(app, o.notify_cacert);
    app.add_option("--public-notify-url", o.public_notify_url,
                   "Notification service URL for browsers, if not --notify-url")
        ->envname("LIVECHAT_PUBLIC_NOTIFY_URL");
  }
  add_redis_option(app, o.redis_url);
  app.add_option("--redis-max-messages", o.redis_max_messages,
                 "With --redis: the stream is capped near this many messages (MAXLEN ~)")
      ->envname("LIVECHAT_REDIS_MAX_MESSAGES")
      ->check(CLI::Range(std::size_t{100}, std::size_t{1'000'000'000}))
      ->capture_default_str();
  app.add_option("--rate-limit", o.rate_limit,
                 "Messages a second one client address may post (token bucket); 0: no limit")
      ->envname("LIVECHAT_RATE_LIMIT")
      ->check(CLI::Range(0.0, 1e6))
      ->capture_default_str();
  app.add_option("--rate-burst", o.rate_burst,
                 "Messages a client may post at once before --rate-limit applies (default: "
                 "twice the rate)")
      ->envname("LIVECHAT_RATE_BURST")
      ->check(CLI::Range(0.0, 1e6));
  app.add_option("--max-message-bytes", o.max_message_bytes,
                 "Largest message content accepted, in bytes")
      ->envname("LIVECHAT_MAX_MESSAGE_BYTES")
      ->check(CLI::Range(1, 16 * 1024 * 1024))
      ->capture_default_str();
  app.add_option("--max-body-bytes", o.body_bytes,
                 "Largest request body taken, in bytes; beyond it, 413 (default: " +
                     bytes_text(server::http::HttpServerOptions{}.max_body_bytes) +
                     ", or room for --max-message-bytes escaped as JSON)")
      ->envname("LIVECHAT_MAX_BODY_BYTES")
      ->check(CLI::Range(std::size_t{256}, std::size_t{64 * 1024 * 1024}));
}

void add_notify_options(CLI::App& app, NotifyOptions& o) {
  app.add_option("--heartbeat", o.heartbeat_seconds,
                 "Seconds of silence after which a stream gets a ': ping' comment")
      ->envname("LIVECHAT_HEARTBEAT")
      ->check(CLI::Range(0.01, 3600.0))
      ->capture_default_str();
  app.add_option("--retry", o.retry_ms, "Reconnect delay sent to clients (retry:), in ms")
      ->envname("LIVECHAT_RETRY_MS")
      ->check(CLI::Range(0L, 3'600'000L))
      ->capture_default_str();
  app.add_option("--log-events", o.log_events,
                 "Recent events kept so a client can resume with Last-Event-ID")
      ->envname("LIVECHAT_LOG_EVENTS")
      ->check(CLI::Range(std::size_t{1}, std::size_t{10'000'000}))
      ->capture_default_str();
  app.add_option("--max-lag", o.max_lag,
                 "Events a stream may fall behind before it is closed (it then resumes)")
      ->envname("LIVECHAT_MAX_LAG")
      ->check(CLI::Range(std::size_t{1}, std::size_t{10'000'000}))
      ->capture_default_str();
  app.add_option("--max-stream-buffer", o.max_stream_buffer,
                 "Bytes due to a stream whose socket is full before it is closed as too slow "
                 "(it then resumes)")
      ->envname("LIVECHAT_MAX_STREAM_BUFFER")
      ->check(CLI::Range(std::size_t{4096}, std::size_t{1024 * 1024 * 1024}))
      ->capture_default_str();
  app.add_option("--max-clients", o.max_clients, "Most SSE streams at once; beyond it, 503")
      ->envname("LIVECHAT_MAX_CLIENTS")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}))
      ->capture_default_str();
  app.add_option("--max-streams-per-client", o.max_streams_per_client,
                 "Most SSE streams one client address may hold; beyond it, 503 (0: no cap)")
      ->envname("LIVECHAT_MAX_STREAMS_PER_CLIENT")
      ->check(CLI::Range(std::size_t{0}, std::size_t{1'000'000}))
      ->capture_default_str();
}

void add_notify_body_option(CLI::App& app, NotifyOptions& o) {
  app.add_option("--max-body-bytes", o.body_bytes,
                 "Largest POST /notify body taken, in bytes; beyond it, 413 (a batch from the "
                 "message service is at most " +
                     bytes_text(server::service::HttpNotifierOptions{}.max_batch_bytes) +
                     " of content)")
      ->envname("LIVECHAT_MAX_BODY_BYTES")
      ->check(CLI::Range(std::size_t{256}, std::size_t{64 * 1024 * 1024}))
      ->capture_default_str();
}

void add_redis_option(CLI::App& app, std::string& url) {
  app.add_option("--redis", url,
                 "Redis to scale out on, redis://host:port[/db]: one stream all nodes share "
                 "(default: none)")
      ->envname("LIVECHAT_REDIS_URL");
}

server::http::HttpServerOptions http_options(const CommonOptions& common, int port,
                                             std::size_t max_body) {
  server::http::HttpServerOptions options;
  options.host = common.host;
  options.port = port;
  options.allowed_origins = common.cors_origins;
  options.max_body_bytes = max_body;
  options.trust_proxy = common.trust_proxy;
  options.request_timeout = std::chrono::milliseconds(
      static_cast<long>(std::lround(common.request_timeout_seconds * 1000)));
  options.max_header_bytes = common.max_header_bytes;
  if (common.tls_cert.empty() != common.tls_key.empty()) {
    throw UserError(common.tls_cert.empty() ? "--tls-key needs --tls-cert"
                                            : "--tls-cert needs --tls-key");
  }
  if (!common.tls_cert.empty()) {
    auto tls = wire::TlsContext::load(common.tls_cert, common.tls_key);
    if (!tls) {
      throw UserError(with_flag_hint(tls.error()));
    }
    options.tls = *tls;
  }
  return options;
}

server::service::MessageServiceOptions message_service_options(const MessageOptions& o,
                                                               const CommonOptions& common) {
  server::service::MessageServiceOptions options;
  options.auth_secret = common.auth_secret;
  options.limits.max_content_bytes = o.max_message_bytes;
  options.public_notify_url = o.public_notify_url.empty() ? o.notify_url : o.public_notify_url;
  options.page_html = std::string(www::index_html());
  options.rate_limit = o.rate_limit;
  options.rate_burst = o.rate_burst;
  options.max_body_bytes = o.body_bytes;
  return options;
}

server::hub::HubOptions hub_options(const NotifyOptions& o) {
  server::hub::HubOptions options;
  options.heartbeat =
      std::chrono::milliseconds(static_cast<long>(std::lround(o.heartbeat_seconds * 1000)));
  options.log.max_events = o.log_events;
  options.max_lag_events = o.max_lag;
  options.max_stream_bytes = o.max_stream_buffer;
  return options;
}

server::service::NotifyServiceOptions notify_service_options(const NotifyOptions& o,
                                                             const CommonOptions& common) {
  server::service::NotifyServiceOptions options;
  options.notify_token = common.notify_token;
  options.auth_secret = common.auth_secret;
  options.max_streams_per_client = o.max_streams_per_client;
  options.retry = std::chrono::milliseconds(o.retry_ms);
  options.max_clients = o.max_clients;
  options.max_body_bytes = o.body_bytes;
  return options;
}

void warn_if_notify_open(const CommonOptions& common) {
  if (common.notify_token.empty() && !wire::is_loopback_host(common.host)) {
    spdlog::warn(
        "POST /notify takes messages from anyone who can reach {}: set --notify-token (the same "
        "on the message service) or listen on 127.0.0.1",
        common.host);
  }
}

int start_or_throw(server::http::HttpServer& server, const std::string& what) {
  auto port = server.start();
  if (!port) {
    throw UserError(what + ": " + port.error().message);
  }
  spdlog::info("{} listening on {}", what, server.address());
  return *port;
}

}  // namespace livechat::cli
