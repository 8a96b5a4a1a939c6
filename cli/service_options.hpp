#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "cli/addresses.hpp"
#include "cli/units.hpp"
#include "server/http/server.hpp"
#include "server/hub/hub.hpp"
#include "server/service/message_service.hpp"
#include "server/service/notify_service.hpp"
#include "server/store/redis_store.hpp"
#include "wire/message.hpp"

namespace CLI {
class App;
}

namespace livechat::cli {

// Options every service shares.
struct CommonOptions {
  // All interfaces, like the original services, so a phone on the LAN can chat too.
  std::string host = server::http::HttpServerOptions{}.host;
  std::string log_level = "info";
  std::string log_format = "text";  // or "json": one JSON object per line
  std::vector<std::string> cors_origins = server::http::HttpServerOptions{}.allowed_origins;
  // Shared by the message and notification services; empty: /notify is open.
  std::string notify_token;
  bool trust_proxy = server::http::HttpServerOptions{}.trust_proxy;
  std::string auth_secret;  // empty: no user tokens needed
  std::string tls_cert;     // with tls_key: serve HTTPS
  std::string tls_key;
  // Long enough for a phone on a bad link to send a chat message; short enough that clients
  // trickling bytes (slowloris) hold threads for seconds, not hours.
  double request_timeout_seconds = seconds(server::http::HttpServerOptions{}.request_timeout);
  std::size_t max_header_bytes = server::http::HttpServerOptions{}.max_header_bytes;
};

// Options of the message service.
struct MessageOptions {
  // In the working directory, like most embedded stores; ":memory:" keeps nothing.
  std::string db = "livechat.db";
  std::string notify_url = k_default_notify_url;
  std::string public_notify_url;  // empty: the notify URL
  std::size_t max_message_bytes = wire::Limits{}.max_content_bytes;
  // Posts a second per client address; 0: no limit.
  double rate_limit = server::service::MessageServiceOptions{}.rate_limit;
  double rate_burst = server::service::MessageServiceOptions{}.rate_burst;  // 0: twice the rate
  std::string redis_url;  // empty: SQLite at `db`, and the HTTP hop to `notify_url`
  std::size_t redis_max_messages = server::store::RedisStoreOptions{}.max_length;
  std::string notify_cacert;  // --notify-url https://: the CA to trust (empty: the system's)

  // 0: derived from max_message_bytes (MessageServiceOptions::body_limit)
  std::size_t body_bytes = server::service::MessageServiceOptions{}.max_body_bytes;
};

// Options of the notification service.
struct NotifyOptions {
  double heartbeat_seconds = seconds(server::hub::HubOptions{}.heartbeat);
  long retry_ms = static_cast<long>(server::service::NotifyServiceOptions{}.retry.count());
  std::size_t max_clients = server::service::NotifyServiceOptions{}.max_clients;
  std::size_t log_events = server::hub::EventLogLimits{}.max_events;
  std::size_t max_lag = server::hub::HubOptions{}.max_lag_events;
  std::size_t max_stream_buffer = server::hub::HubOptions{}.max_stream_bytes;
  std::size_t max_streams_per_client =
      server::service::NotifyServiceOptions{}.max_streams_per_client;
  std::string redis_url;  // empty: messages come by POST /notify
  // Largest POST /notify body, then 413 (--max-body-bytes of serve-notify).
  std::size_t body_bytes = server::service::NotifyServiceOptions{}.max_body_bytes;
};

// Adds the flags every service shares (--host, --log-level, --tls-cert, ...).
void add_common_options(CLI::App& app, CommonOptions& options);
// Adds a port option (0: any free port), with an environment variable.
void add_port_option(CLI::App& app, const std::string& name, int& port,
                     const std::string& description, const std::string& env);
// Adds the flags of a message service (--db, --rate-limit, ...; with `with_notify_url`, the
// notification service to hand messages to).
void add_message_options(CLI::App& app, MessageOptions& options, bool with_notify_url);
// Adds the flags of a notification service (--heartbeat, --max-clients, ...).
void add_notify_options(CLI::App& app, NotifyOptions& options);
// Adds --max-body-bytes (LIVECHAT_MAX_BODY_BYTES) of a notification service alone.
void add_notify_body_option(CLI::App& app, NotifyOptions& options);
// Adds --redis (LIVECHAT_REDIS_URL).
void add_redis_option(CLI::App& app, std::string& url);

// Returns the HTTP server options of a service on `port`, loading --tls-cert and --tls-key, or
// throws a UserError that says what is wrong with them.
server::http::HttpServerOptions http_options(const CommonOptions& common, int port,
                                             std::size_t max_body);
// Returns the message service's options from its flags.
server::service::MessageServiceOptions message_service_options(const MessageOptions& options,
                                                               const CommonOptions& common);
// Returns the hub's options from the notification service's flags.
server::hub::HubOptions hub_options(const NotifyOptions& options);
// Returns the notification service's options from its flags.
server::service::NotifyServiceOptions notify_service_options(const NotifyOptions& options,
                                                             const CommonOptions& common);

// Warns when POST /notify is open to more than this machine (no --notify-token on a public host).
void warn_if_notify_open(const CommonOptions& common);

// Starts a server or throws a UserError that says why it cannot listen.
int start_or_throw(server::http::HttpServer& server, const std::string& what);

}  // namespace livechat::cli
