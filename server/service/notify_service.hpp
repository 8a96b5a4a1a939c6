#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "server/http/server.hpp"
#include "server/hub/hub.hpp"
#include "server/redis/feed.hpp"
#include "server/service/client_limits.hpp"
#include "wire/errors.hpp"
#include "wire/message.hpp"
#include "wire/result.hpp"

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace livechat::server::service {

struct NotifyServiceOptions {
  wire::Limits limits;
  // What a client waits before reconnecting (sent as the stream's `retry:`).
  std::chrono::milliseconds retry{2000};
  // Streams beyond this get a 503: one process holds about 19,000 sockets on a 20,000-file
  // limit, and headroom is kept for publishers and health checks.
  std::size_t max_clients = 15'000;
  // Streams then need a user token signed with it (?token= or a Bearer header); empty: no auth.
  std::string auth_secret;
  // Streams one client address may hold at once; beyond it, 503. 0: no cap.
  std::size_t max_streams_per_client = 1'000;
  // POST /notify then needs "Authorization: Bearer <token>"; empty: anyone who reaches it.
  std::string notify_token;
  // Serves POST /notify; off, the route answers a JSON 404 without reading a body (both services
  // in one process hand messages over in memory and need no door for them).
  bool notify_route = true;
  // A notification whose id is a timestamp (YYYYMMDDhhmmss.ffffff) later than this node's clock
  // by more than this is rejected: one id far in the future would sort after every real message.
  // A minute covers clocks that NTP keeps in step.
  std::chrono::seconds max_id_lead{60};
  // The largest POST /notify body taken, in bytes: a batch from the message service holds at
  // most 256 notifications and 512 KiB of content (HttpNotifierOptions), which stays under
  // 3.5 MiB even when every byte is escaped as JSON (\u0000, six bytes).
  std::size_t max_body_bytes = 4 * 1024 * 1024;
};

// The real-time side: SSE streams from a hub (resumed with Last-Event-ID), /notify to publish
// into it, health.
class NotifyService {
 public:
  // With a followed stream (Redis), messages come from it rather than /notify, and resumes from
  // before the node's log are read back from it.
  NotifyService(hub::Hub& hub, NotifyServiceOptions options,
                redis::FollowedStream* stream = nullptr);
  // Shuts the hub down first: its streams hold this service's per-address stream slots.
  ~NotifyService();
  NotifyService(const NotifyService&) = delete;
  NotifyService& operator=(const NotifyService&) = delete;

  // Registers the routes on a server (before it starts).
  void add_routes(http::HttpServer& http);

 private:
  // Where a stream resuming after `last_event_id` starts, and what it hears before that.
  struct Start {
    std::uint64_t from = 0;
    std::string preamble;
    std::string skip_through;  // a followed stream: ids the client already has
  };
  wire::Result<Start, wire::ApiError> start_point(const std::string& last_event_id,
                                                  const std::vector<std::string>& rooms);
  // Answers GET /events: the stream's body, which hands its socket to the hub, or an error.
  http::HttpServer::StreamBody open_stream(const http::HttpServer& http,
                                           const httplib::Request& req, httplib::Response& res);
  // Rejects a POST /notify from its head alone: not served here, or without the notify token.
  std::optional<wire::ApiError> notify_rejection(const httplib::Request& req) const;
  // Rejects a batch with a timestamp-shaped id later than the clock by more than max_id_lead.
  std::optional<wire::ApiError> id_ahead_of_clock(const std::vector<wire::Message>& messages) const;

  hub::Hub& m_hub;
  NotifyServiceOptions m_options;
  redis::FollowedStream* m_stream;
  StreamCounter m_streams_per_client;
  std::atomic<std::uint64_t> m_resumes{0};
  std::atomic<std::uint64_t> m_resets{0};
};

}  // namespace livechat::server::service
