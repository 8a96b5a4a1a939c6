#include "server/service/notify_service.hpp"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>

#include "server/http/server.hpp"
#include "server/http/user_token.hpp"
#include "server/hub/tls_transport.hpp"
#include "wire/auth.hpp"
#include "wire/id.hpp"
#include "wire/sse.hpp"

namespace livechat::server::service {
namespace {

constexpr std::size_t k_max_client_id = 128;

// Frames stream bytes as HTTP/1.1 chunks (the SSE response is chunked).
class ChunkedFraming final : public hub::Framing {
 public:
  std::string header(std::size_t bytes) const override {
    char buffer[24];
    int n = std::snprintf(buffer, sizeof buffer, "%zx\r\n", bytes);
    return std::string(buffer, static_cast<std::size_t>(n));
  }
  std::string_view trailer() const override { return "\r\n"; }
  std::string_view end() const override { return "0\r\n\r\n"; }
};

std::string random_client_id() {
  thread_local std::mt19937_64 engine{std::random_device{}()};
  char buffer[17];
  std::snprintf(buffer, sizeof buffer, "%016llx", static_cast<unsigned long long>(engine()));
  return buffer;
}

// Encodes the event that tells a resuming client its gap must come from the history.
std::string reset_event(const char* reason, const std::string& last_event_id) {
  nlohmann::json data = {{"reason", reason}, {"last_id", last_event_id}};
  return wire::sse::encode_event("", "reset", data.dump());
}

const char* describe(hub::EndReason reason) {
  switch (reason) {
    case hub::EndReason::client_gone:
      return "client went away";
    case hub::EndReason::too_slow:
      return "client too slow, closed";
    case hub::EndReason::shutdown:
      return "server shutting down";
  }
  return "";
}

// Returns the bytes of the log's frames from seq `from` on in `rooms` (empty: every room).
std::size_t due_bytes(const hub::Hub& hub, std::uint64_t from,
                      const std::vector<std::string>& rooms) {
  std::size_t bytes = 0;
  for (const auto& entry : hub.log().range(from, UINT64_MAX)) {
    if (wire::in_rooms(rooms, entry.room)) {
      bytes += entry.frame->size();
    }
  }
  return bytes;
}

}  // namespace

NotifyService::NotifyService(hub::Hub& hub, NotifyServiceOptions options,
                             redis::FollowedStream* stream)
    : m_hub(hub), m_options(std::move(options)), m_stream(stream) {}

NotifyService::~NotifyService() { m_hub.shutdown(); }

wire::Result<NotifyService::Start, wire::ApiError> NotifyService::start_point(
    const std::string& last_event_id, const std::vector<std::string>& rooms) {
  // Settled before the client hears `connected`: every event appended from then on reaches it,
  // and a replay meets the live stream with no gap and no repeat.
  Start start{m_hub.log().head(), {}, {}};
  if (m_stream != nullptr && !m_stream->health().following) {
    // Until it knows where it joined the stream, a node cannot say what a client would miss.
    return wire::ApiError{wire::ApiErrorKind::unavailable,
                          "this node has not reached Redis yet; try again"};
  }
  if (last_event_id.empty()) {
    return start;
  }
  const std::size_t max_lag = m_hub.options().max_lag_events;
  auto point = m_hub.log().locate(last_event_id);
  const char* reset = nullptr;
  std::vector<wire::Message> replayed;
  std::size_t replayed_bytes = 0;
  bool truncated = false;
  if (point.kind == hub::ResumePoint::Kind::earlier && m_stream != nullptr) {
    // Before this node's log: the stream (Redis) has the gap.
    auto replay = m_stream->replay(last_event_id, point.upto, max_lag);
    if (replay.outcome == redis::Replay::Outcome::unavailable) {
      return wire::ApiError{wire::ApiErrorKind::unavailable,
                            "cannot resume now (" + replay.error + "); try again"};
    }
    if (replay.outcome == redis::Replay::Outcome::expired) {
      reset = "expired: older than the messages Redis still holds";
    }
    // More than it asked for means more than a stream may lag, whatever the rooms.
    truncated = replay.messages.size() > max_lag;
    // Only the rooms this stream follows, as the hub would deliver them.
    for (auto& m : replay.messages) {
      if (wire::in_rooms(rooms, m.room)) {
        replayed_bytes += m.content.size();
        replayed.push_back(std::move(m));
      }
    }
  } else if (point.kind == hub::ResumePoint::Kind::expired) {
    reset = "expired: older than the events this service still holds";
  } else if (point.kind == hub::ResumePoint::Kind::unknown) {
    reset = "unknown: this service does not hold that id (it may have restarted)";
  }
  if (reset == nullptr && (truncated || replayed_bytes > m_hub.options().log.max_bytes ||
                           replayed.size() + (m_hub.log().head() - point.from) > max_lag)) {
    // A replay that long would be closed as too slow before it got anywhere.
    reset = "behind: more to replay than a stream may lag";
  }
  if (reset == nullptr && due_bytes(m_hub, point.from, rooms) > m_hub.options().max_stream_bytes) {
    // So would one whose bytes would fill the stream's buffer while the socket takes them.
    reset = "behind: more to replay than a stream may buffer";
  }
  if (reset != nullptr) {
    ++m_resets;
    start.preamble = reset_event(reset, last_event_id);
    return start;
  }
  ++m_resumes;
  start.from = point.from;
  if (m_stream != nullptr) {
    // This node may not have read yet what the client saw on another one.
    start.skip_through = last_event_id;
  }
  for (const auto& m : replayed) {
    start.preamble += hub::encode_message_frame(m);
  }
  return start;
}

std::optional<wire::ApiError> NotifyService::notify_rejection(const httplib::Request& req) const {
  if (!m_options.notify_route) {
    return wire::ApiError{wire::ApiErrorKind::not_found,
                          "POST /notify is not served here: this server's messages come from the "
                          "message service in the same process, and it serves the route only "
                          "when asked to (openly, or with a notify token)"};
  }
  if (m_options.notify_token.empty()) {
    return std::nullopt;
  }
  const std::string authorization = req.get_header_value("Authorization");  // the view's owner
  auto token = wire::bearer_token(authorization);
  if (token && wire::constant_time_equal(*token, m_options.notify_token)) {
    return std::nullopt;
  }
  return wire::ApiError{
      wire::ApiErrorKind::unauthorized,
      token ? "wrong notify token" : "POST /notify needs Authorization: Bearer <notify token>"};
}

std::optional<wire::ApiError> NotifyService::id_ahead_of_clock(
    const std::vector<wire::Message>& messages) const {
  const std::int64_t latest =
      wire::system_micros() +
      std::chrono::duration_cast<std::chrono::microseconds>(m_options.max_id_lead).count();
  for (const auto& m : messages) {
    // Ids that are not timestamps are taken as they are: any non-empty string is an id here.
    auto micros = wire::parse_id(m.id);
    if (micros && *micros > latest) {
      return wire::ApiError{
          wire::ApiErrorKind::bad_id,
          "id " + m.id + " is more than " + std::to_string(m_options.max_id_lead.count()) +
              " s ahead of this node's clock (" + wire::format_id(wire::system_micros()) +
              "); nothing of this post was broadcast"};
    }
  }
  return std::nullopt;
}

// GET /events?room=a,b&client_id=X -> text/event-stream:
//   retry: 2000 / event: connected {"client_id":"X"} / then per message:
//   id: <message id>\nevent: message\ndata: <notification JSON>\n\n
http::HttpServer::StreamBody NotifyService::open_stream(const http::HttpServer& http,
                                                        const httplib::Request& req,
                                                        httplib::Response& res) {
  static const auto framing = std::make_shared<const ChunkedFraming>();

  auto rooms = wire::parse_room_list(req.get_param_value("room"));
  if (!rooms) {
    http::send_error(res, rooms.error());
    return {};
  }
  std::string client_id = req.get_param_value("client_id");
  if (client_id.size() > k_max_client_id || !wire::is_valid_utf8(client_id)) {
    http::send_error(
        res, {wire::ApiErrorKind::bad_request, "\"client_id\" must be at most 128 bytes of UTF-8"});
    return {};
  }
  if (client_id.empty()) {
    client_id = random_client_id();
  }
  if (m_hub.subscribers() >= m_options.max_clients) {
    res.set_header("Retry-After", "5");
    http::send_error(res, {wire::ApiErrorKind::too_many_clients,
                           "this notification service is at its limit of " +
                               std::to_string(m_options.max_clients) + " streams"});
    return {};
  }
  if (auto claims = http::check_user_token(req, m_options.auth_secret); !claims) {
    http::send_error(res, claims.error());
    return {};
  }
  // Held by the stream's body: released when the response (and the stream) is done.
  auto slot =
      m_streams_per_client.reserve(http.client_address(req), m_options.max_streams_per_client);
  if (!slot) {
    res.set_header("Retry-After", "5");
    http::send_error(
        res, {wire::ApiErrorKind::too_many_clients,
              "this address already has " + std::to_string(m_options.max_streams_per_client) +
                  " streams open here, as many as one address may hold"});
    return {};
  }
  // Resume: the header a browser's EventSource sends, or the query for those that cannot.
  std::string last_event_id = req.get_header_value("Last-Event-ID");
  if (last_event_id.empty()) {
    last_event_id = req.get_param_value("last_event_id");
  }
  if (last_event_id.size() > wire::k_max_id_bytes || !wire::is_valid_utf8(last_event_id)) {
    http::send_error(
        res, {wire::ApiErrorKind::bad_id, "\"Last-Event-ID\" must be at most 128 bytes of UTF-8"});
    return {};
  }
  auto start = start_point(last_event_id, *rooms);
  if (!start) {
    res.set_header("Retry-After", "1");
    http::send_error(res, start.error());
    return {};
  }
  std::string preamble =
      wire::sse::encode_retry(static_cast<long>(m_options.retry.count())) +
      wire::sse::encode_event("", "connected", nlohmann::json{{"client_id", client_id}}.dump()) +
      start->preamble;
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");
  return
      [this, preamble = std::move(preamble), from = start->from, skip_through = start->skip_through,
       rooms = std::move(*rooms), client_id, slot](const http::ResponseStream& stream) {
        if (!stream.write(preamble)) {
          return;
        }
        // From here the hub's writers own the connection: no thread waits for the stream.
        http::HandedConnection connection = stream.hand_off();
        std::unique_ptr<hub::Transport> transport;
        if (connection.ssl != nullptr) {
          transport = std::make_unique<hub::TlsTransport>(connection.ssl, connection.fd);
        } else {
          transport = std::make_unique<hub::SocketTransport>(connection.fd);
        }
        m_hub.subscribe({std::move(transport), framing, rooms, from, skip_through,
                         // The address's stream slot is held until the stream ends.
                         [client_id, slot](hub::EndReason reason) {
                           spdlog::debug("stream {} ended: {}", client_id, describe(reason));
                         },
                         std::move(connection.unwritten)});
        spdlog::debug("stream {} open ({} streams)", client_id, m_hub.subscribers());
      };
}

void NotifyService::add_routes(http::HttpServer& http) {
  // Exactly "text/event-stream": with a charset, cpp-httplib would gzip the stream.
  http.stream("/events", "text/event-stream",
              [this, &http](const httplib::Request& req, httplib::Response& res) {
                return open_stream(http, req, res);
              });

  // POST /notify {notification} or [{notification}, ...] -> {"status":"ok","received":N,...}
  // The token is checked on the request's head: a rejected post's body is never read.
  http::HttpServer::PostOptions notify_options;
  notify_options.gate = [this](const httplib::Request& req) { return notify_rejection(req); };
  http.post(
      "/notify",
      [this](const httplib::Request&, httplib::Response& res, const std::string& body) {
        if (m_stream != nullptr) {
          http::send_error(res, {wire::ApiErrorKind::wrong_mode,
                                 "this notification service follows a Redis stream: post "
                                 "messages to the message service instead"});
          return;
        }
        auto messages = wire::parse_notifications(body, m_options.limits);
        if (!messages) {
          spdlog::debug("POST /notify rejected: {}", messages.error().message);
          http::send_error(res, messages.error());
          return;
        }
        if (auto ahead = id_ahead_of_clock(*messages)) {
          spdlog::debug("POST /notify rejected: {}", ahead->message);
          http::send_error(res, *ahead);
          return;
        }
        auto added = m_hub.publish(*messages);
        if (!added) {
          // Streams are closing: the sender keeps the messages for the next instance.
          res.set_header("Retry-After", "1");
          http::send_error(
              res, {wire::ApiErrorKind::unavailable, "the notification service is shutting down"});
          return;
        }
        nlohmann::json reply = {{"status", "ok"},
                                {"received", messages->size()},
                                {"duplicates", messages->size() - *added},
                                {"clients", m_hub.subscribers()}};
        http::send_json(res, 200, reply.dump());
      },
      std::move(notify_options));

  // GET /metrics -> Prometheus text
  http.get("/metrics", [this, &http](const httplib::Request&, httplib::Response& res) {
    auto stats = m_hub.stats();
    wire::metrics::Text text;
    text.gauge("livechat_clients", "SSE streams open", static_cast<double>(stats.subscribers));
    text.counter("livechat_published_total", "Messages published into this node",
                 static_cast<double>(stats.published));
    text.counter("livechat_deliveries_total", "Messages written to streams",
                 static_cast<double>(stats.deliveries));
    text.counter("livechat_closed_slow_total",
                 "Streams closed for falling behind (too many events, or too many bytes due)",
                 static_cast<double>(stats.closed_slow));
    text.counter("livechat_resumes_total", "Streams resumed with Last-Event-ID",
                 static_cast<double>(m_resumes.load()));
    text.counter("livechat_resets_total", "Resumes answered with a reset",
                 static_cast<double>(m_resets.load()));
    text.gauge("livechat_log_events", "Recent events held for resume",
               static_cast<double>(m_hub.log().size()));
    if (m_stream != nullptr) {
      text.gauge("livechat_redis_reachable", "1 when the Redis stream can be read",
                 m_stream->health().reachable ? 1 : 0);
    }
    http.render_request_metrics(text, "notify");
    res.set_content(text.str(), std::string(wire::metrics::k_content_type));
  });

  // GET /health -> {"status":"ok","service":"notify","clients":N,...}
  http.get("/health", [this](const httplib::Request&, httplib::Response& res) {
    auto stats = m_hub.stats();
    nlohmann::json body = {{"status", "ok"},
                           {"service", "notify"},
                           {"clients", stats.subscribers},
                           {"published", stats.published},
                           {"deliveries", stats.deliveries},
                           {"closed_slow", stats.closed_slow},
                           {"resumes", m_resumes.load()},
                           {"resets", m_resets.load()},
                           {"log_events", m_hub.log().size()}};
    if (m_stream != nullptr) {
      // Streams stay up while Redis is away; they get nothing new until it is back.
      auto redis = m_stream->health();
      body["redis"] = {{"reachable", redis.reachable},
                       {"following", redis.following},
                       {"last_id", redis.last_id}};
      if (!redis.reachable) {
        body["status"] = "degraded";
        body["redis"]["error"] = redis.error;
      }
    }
    http::send_json(res, 200, body.dump());
  });
}

}  // namespace livechat::server::service
