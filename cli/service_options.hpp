#pragma once

#include <algorithm>
#include <csignal>
#include <cstddef>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "server/http/server.hpp"
#include "server/hub/hub.hpp"
#include "server/service/message_service.hpp"
#include "server/service/notify_service.hpp"
#include "server/store/message_store.hpp"
#include "server/store/redis_store.hpp"
#include "wire/url.hpp"

namespace CLI {
class App;
}

namespace livechat::cli {

inline constexpr int k_default_message_port = 8080;
inline constexpr int k_default_notify_port = 8081;
inline constexpr const char* k_default_message_url = "http://localhost:8080";
inline constexpr const char* k_default_notify_url = "http://localhost:8081";

// Sockets a notification service needs beyond its streams: publishers, health checks, the
// listener.
inline constexpr std::size_t k_spare_files = 256;

// Options every service shares.
struct CommonOptions {
  // All interfaces, like the original services, so a phone on the LAN can chat too.
  std::string host = "0.0.0.0";
  std::string log_level = "info";
  std::string log_format = "text";  // or "json": one JSON object per line
  std::vector<std::string> cors_origins = {"*"};
  // Shared by the message and notification services; empty: /notify is open.
  std::string notify_token;
  bool trust_proxy = false;
  std::string auth_secret;  // empty: no user tokens needed
  std::string tls_cert;     // with tls_key: serve HTTPS
  std::string tls_key;
  // Long enough for a phone on a bad link to send a chat message; short enough that clients
  // trickling bytes (slowloris) hold threads for seconds, not hours.
  double request_timeout_seconds = 20;
  // nginx's default is 4 x 8 KiB; a token in the URL or a header is a few hundred bytes.
  std::size_t max_header_bytes = 32 * 1024;
};

// Options of the message service.
struct MessageOptions {
  // In the working directory, like most embedded stores; ":memory:" keeps nothing.
  std::string db = "livechat.db";
  std::string notify_url = k_default_notify_url;
  std::string public_notify_url;  // empty: the notify URL
  std::size_t max_message_bytes = 64 * 1024;
  double rate_limit = 0;  // posts a second per client address; 0: no limit
  double rate_burst = 0;  // 0: twice the rate
  std::string redis_url;  // empty: SQLite at `db`, and the HTTP hop to `notify_url`
  std::size_t redis_max_messages = server::store::RedisStoreOptions{}.max_length;
  std::string notify_cacert;  // --notify-url https://: the CA to trust (empty: the system's)

  std::size_t body_bytes = 0;  // 0: derived from max_message_bytes

  // Returns the largest request body taken: --max-body-bytes, or room for the largest content
  // escaped as JSON, at least 1 MiB.
  std::size_t max_body_bytes() const {
    if (body_bytes != 0) {
      return body_bytes;
    }
    return std::max<std::size_t>(1024 * 1024, 2 * max_message_bytes + 64 * 1024);
  }
};

// The body a notification service takes by default on POST /notify: a batch from the message
// service holds at most 256 notifications and 512 KiB of content (server/notifier.hpp), which
// stays under 3.5 MiB even when every byte is escaped as JSON (\u0000, six bytes).
inline constexpr std::size_t k_default_notify_body = 4 * 1024 * 1024;

// Options of the notification service.
struct NotifyOptions {
  double heartbeat_seconds = 15.0;
  long retry_ms = 2000;
  std::size_t max_clients = 15'000;
  std::size_t log_events = server::hub::EventLogLimits{}.max_events;
  std::size_t max_lag = server::hub::HubOptions{}.max_lag_events;
  std::size_t max_stream_buffer = server::hub::HubOptions{}.max_stream_bytes;
  std::size_t max_streams_per_client =
      server::service::NotifyServiceOptions{}.max_streams_per_client;
  std::string redis_url;  // empty: messages come by POST /notify
  // Largest POST /notify body, then 413 (--max-body-bytes of serve-notify).
  std::size_t body_bytes = k_default_notify_body;
};

void add_common_options(CLI::App& app, CommonOptions& options);
// Adds a port option (0: any free port), with an environment variable.
void add_port_option(CLI::App& app, const std::string& name, int& port,
                     const std::string& description, const std::string& env);
void add_message_options(CLI::App& app, MessageOptions& options, bool with_notify_url);
void add_notify_options(CLI::App& app, NotifyOptions& options);
// Adds --max-body-bytes (LIVECHAT_MAX_BODY_BYTES) of a notification service alone.
void add_notify_body_option(CLI::App& app, NotifyOptions& options);
// Adds --redis (LIVECHAT_REDIS_URL).
void add_redis_option(CLI::App& app, std::string& url);

server::http::HttpServerOptions http_options(const CommonOptions& common, int port,
                                             std::size_t max_body);
server::service::MessageServiceOptions message_service_options(const MessageOptions& options,
                                                               const CommonOptions& common);
server::hub::HubOptions hub_options(const NotifyOptions& options);
server::service::NotifyServiceOptions notify_service_options(const NotifyOptions& options,
                                                             const CommonOptions& common);

// Warns when POST /notify is open to more than this machine (no --notify-token on a public host).
void warn_if_notify_open(const CommonOptions& common);

// Opens the message store (Redis with --redis, else SQLite at --db), or throws a UserError that
// says what is wrong with it.
std::unique_ptr<server::store::MessageStore> open_store(const MessageOptions& options);

// Parses --redis, or throws a UserError that says what is wrong with it.
wire::RedisAddress require_redis(const std::string& url);

// Parses a URL given on the command line, or throws a UserError naming the option; `cacert` (a
// PEM file, checked to be readable) is the CA an https:// URL is trusted by.
wire::Endpoint require_endpoint(const std::string& url, const std::string& option,
                                const std::string& cacert = {});

// Adds --cacert (LIVECHAT_CACERT) for the https:// URLs a client command is given.
void add_cacert_option(CLI::App& app, std::string& cacert);

// Sends logs to `err` (stderr in the binary) at --log-level, as text or one JSON object per line
// (--log-format).
void setup_logging(const CommonOptions& common, std::ostream& err);

// Raises the soft open-files limit to the hard one, saying so; warns when `wanted` won't fit.
void raise_open_files_limit(std::size_t wanted);

// Starts a server or throws a UserError that says why it cannot listen.
int start_or_throw(server::http::HttpServer& server, const std::string& what);

// Blocks SIGINT and SIGTERM (and with `reload`, SIGHUP) in every thread started after it, to be
// taken by wait().
class StopSignals {
 public:
  explicit StopSignals(bool reload = false);
  // Waits for SIGINT or SIGTERM and returns its name; calls `on_reload` for each SIGHUP meanwhile.
  const char* wait(const std::function<void()>& on_reload = {});

 private:
  sigset_t m_set;
};

// Returns what SIGHUP does to services with --tls-cert: load the certificate and key again and
// give them to `servers` for new connections; a pair that does not load is logged and the
// current one kept.
std::function<void()> tls_reloader(const CommonOptions& common,
                                   std::vector<server::http::HttpServer*> servers);

}  // namespace livechat::cli
