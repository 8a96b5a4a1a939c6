#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "client/bench/response_decoder.hpp"
#include "wire/result.hpp"
#include "wire/sse.hpp"
#include "wire/url.hpp"

namespace livechat::client::bench {

// Receives what happens on a pool's streams, on the pool's event-loop threads: calls for one
// stream always come from the same loop, calls for different loops may run at once.
class StreamHandler {
 public:
  virtual ~StreamHandler() = default;

  // Tells that stream `index`, served by loop `loop`, received its `connected` event.
  virtual void on_connected(std::size_t /*index*/, std::size_t /*loop*/) {}

  // Hands over any other event with the time its bytes were read.
  virtual void on_event(std::size_t /*index*/, std::size_t /*loop*/,
                        const wire::sse::Event& /*event*/,
                        std::chrono::steady_clock::time_point /*received*/) {}

  // Tells that a connection attempt failed before its `connected` event (status: 0 or HTTP).
  virtual void on_failed(std::size_t /*index*/, std::size_t /*loop*/, int /*status*/,
                         const std::string& /*reason*/) {}

  // Tells that a connected stream ended (not counting stop()).
  virtual void on_closed(std::size_t /*index*/, std::size_t /*loop*/,
                         const std::string& /*reason*/) {}
};

// What a pool connects to and how.
struct StreamPoolConfig {
  // Stream i goes to endpoints[i % endpoints.size()] (several notification nodes share them).
  std::vector<wire::Endpoint> endpoints;
  std::string target = "/events";  // path and query of every stream
  std::size_t streams = 1;
  // Event-loop threads (1 or 2): each serves every loops-th stream.
  std::size_t loops = 1;
  // Connects in flight at once: more would overrun the server's listen backlog.
  std::size_t max_connecting = 256;
  // Time from the start of a connect to the `connected` event.
  std::chrono::milliseconds connect_timeout{10'000};
  // Counts a stream as connected once its 200 response head arrived, for servers that send no
  // `connected` event.
  bool connected_on_head = false;
  // Reopens a stream the server closed, with Last-Event-ID, after this delay.
  bool reconnect = false;
  std::chrono::milliseconds reconnect_delay{500};
};

// Holds many SSE streams to one or more notification services on one or two epoll threads.
class StreamPool {
 public:
  StreamPool(StreamPoolConfig config, StreamHandler& handler);
  ~StreamPool();
  StreamPool(const StreamPool&) = delete;
  StreamPool& operator=(const StreamPool&) = delete;

  // Resolves the host and starts connecting in paced batches; returns an error if it cannot.
  std::optional<wire::Error> start();

  // Closes every stream and joins the loops (without on_closed calls); never from a handler.
  void stop();

  // Returns how many streams are open now (their `connected` event arrived).
  std::size_t connected() const { return m_counters.connected.load(); }

  // Returns how many connection attempts failed, reconnects included.
  std::size_t failed() const { return m_counters.failed.load(); }

  // Returns how many open streams ended.
  std::size_t closed() const { return m_counters.closed.load(); }

  // Returns how many closed streams were opened again.
  std::size_t reconnects() const { return m_counters.reconnects.load(); }

  // Returns how many streams have neither connected nor failed yet.
  std::size_t pending() const { return m_counters.pending.load(); }

  // Returns how many event-loop threads serve the streams (once started).
  std::size_t loops() const { return m_config.loops; }

 private:
  // Counters shared with the loops.
  struct Counters {
    std::atomic<std::size_t> connected{0};
    std::atomic<std::size_t> failed{0};
    std::atomic<std::size_t> closed{0};
    std::atomic<std::size_t> reconnects{0};
    std::atomic<std::size_t> pending{0};
  };
  class Loop;

  StreamPoolConfig m_config;
  StreamHandler& m_handler;
  Counters m_counters;
  std::atomic<bool> m_stop{false};
  std::vector<std::unique_ptr<Loop>> m_loops;
  std::vector<std::thread> m_threads;
};

}  // namespace livechat::client::bench
