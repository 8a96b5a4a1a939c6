#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

#include "server/hub.hpp"
#include "wire/message.hpp"

namespace livechat::wire {
class HttpServer;
}

namespace livechat::server {

struct NotifyServiceOptions {
  wire::Limits limits;
  // What a client waits before reconnecting (sent as the stream's `retry:`).
  std::chrono::milliseconds retry{2000};
  // Streams beyond this get a 503: one process holds about 19,000 sockets on a 20,000-file
  // limit, and headroom is kept for publishers and health checks.
  std::size_t max_clients = 15'000;
};

// The real-time side: SSE streams from a hub (resumed with Last-Event-ID), /notify to publish
// into it, health.
class NotifyService {
 public:
  NotifyService(Hub& hub, NotifyServiceOptions options);

  // Registers the routes on a server (before it starts).
  void install(wire::HttpServer& http);

 private:
  Hub& m_hub;
  NotifyServiceOptions m_options;
  std::atomic<std::uint64_t> m_resumes{0};
  std::atomic<std::uint64_t> m_resets{0};
};

}  // namespace livechat::server
