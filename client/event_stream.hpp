#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "wire/sse.hpp"
#include "wire/url.hpp"

namespace httplib {
class Client;
}

namespace livechat::client {

// What to subscribe to.
struct StreamRequest {
  std::vector<std::string> rooms;  // empty: every room
  std::string last_event_id;       // resume after this id, if not empty
  std::string client_id;
  std::string token;  // a user token, sent as "Authorization: Bearer", if not empty
  // A stream silent for this long is taken as dead (three heartbeats of 15 s).
  std::chrono::milliseconds idle_timeout{45'000};
};

// How one connection of a stream ended.
struct StreamEnd {
  // unreachable: the connection failed; rejected: the server answered with an HTTP error.
  enum class Kind { stopped, closed, unreachable, rejected, timed_out, broken } kind;
  std::string detail;  // for a person: why
  int status = 0;      // the HTTP status, when the server answered one
  std::string code;    // when unreachable: the transport error's code (wire::transport_code)
};

// One SSE connection to a notification service; the events go to a handler as they arrive.
class EventStream {
 public:
  // Returns false to stop reading (the stream then ends as `stopped`).
  using Handler = std::function<bool(const wire::sse::Event&)>;

  explicit EventStream(wire::Endpoint endpoint);
  ~EventStream();
  EventStream(const EventStream&) = delete;
  EventStream& operator=(const EventStream&) = delete;

  // Connects and reads until the stream ends or stop() is called.
  StreamEnd run(const StreamRequest& request, const Handler& on_event);

  // Stops a running stream from another thread.
  void stop();

  // Returns the parser (last event id, retry the server asked for).
  const wire::sse::Parser& parser() const { return m_parser; }

 private:
  wire::Endpoint m_endpoint;
  std::unique_ptr<httplib::Client> m_client;
  wire::sse::Parser m_parser;
  std::atomic<bool> m_stop{false};
  std::mutex m_mutex;
};

// Builds the /events path and query for a request.
std::string events_path(const wire::Endpoint& endpoint, const StreamRequest& request);

}  // namespace livechat::client
