#include "client/event_stream.hpp"

#include <httplib.h>

#include "wire/http_client.hpp"

namespace livechat::client {

std::string events_path(const wire::Endpoint& endpoint, const StreamRequest& request) {
  std::string path = endpoint.base_path + "/events";
  char separator = '?';
  auto add = [&](const char* name, const std::string& value) {
    path += separator;
    path += name;
    path += '=';
    path += wire::url_encode(value);
    separator = '&';
  };
  if (!request.rooms.empty()) {
    std::string rooms;
    for (const auto& room : request.rooms) {
      rooms += (rooms.empty() ? "" : ",") + room;
    }
    add("room", rooms);
  }
  if (!request.client_id.empty()) {
    add("client_id", request.client_id);
  }
  return path;
}

EventStream::EventStream(wire::Endpoint endpoint) : m_endpoint(std::move(endpoint)) {}

EventStream::~EventStream() = default;

void EventStream::stop() {
  m_stop = true;
  std::lock_guard lock(m_mutex);
  if (m_client) {
    m_client->stop();
  }
}

StreamEnd EventStream::run(const StreamRequest& request, const Handler& on_event) {
  {
    std::lock_guard lock(m_mutex);
    if (m_stop) {
      return {StreamEnd::Kind::stopped, "stopped", 0, {}};
    }
    wire::ClientTimeouts timeouts;
    timeouts.read = request.idle_timeout;
    m_client = wire::make_client(m_endpoint, timeouts);
  }
  m_parser.reset_partial();
  httplib::Headers headers = {{"Accept", "text/event-stream"}, {"Cache-Control", "no-cache"}};
  if (!request.last_event_id.empty()) {
    headers.emplace("Last-Event-ID", request.last_event_id);
  }
  if (!request.token.empty()) {
    headers.emplace("Authorization", "Bearer " + request.token);
  }
  int status = 0;
  std::string error_body;
  bool handler_stopped = false;
  bool broken = false;
  auto last_read = std::chrono::steady_clock::now();
  auto result = m_client->Get(
      events_path(m_endpoint, request), headers,
      [&](const httplib::Response& response) {
        status = response.status;
        return true;
      },
      [&](const char* data, std::size_t length) {
        last_read = std::chrono::steady_clock::now();
        if (status != 200) {
          error_body.append(data, std::min<std::size_t>(length, 4096));
          return true;
        }
        bool keep_going = m_parser.feed({data, length}, [&](const wire::sse::Event& event) {
          if (!handler_stopped && !on_event(event)) {
            handler_stopped = true;
          }
        });
        if (!keep_going) {
          broken = true;
        }
        return keep_going && !handler_stopped && !m_stop.load();
      });
  if (handler_stopped || m_stop.load()) {
    return {StreamEnd::Kind::stopped, "stopped", status, {}};
  }
  if (broken) {
    return {StreamEnd::Kind::broken, "the stream sent a line too long to be an event", status, {}};
  }
  if (status != 0 && status != 200) {
    return {StreamEnd::Kind::rejected, error_body, status, {}};
  }
  if (!result) {
    auto error = result.error();
    if (status == 0) {
      return {StreamEnd::Kind::unreachable, wire::describe(error), 0, wire::transport_code(error)};
    }
    bool silent = std::chrono::steady_clock::now() - last_read >= request.idle_timeout;
    if (error == httplib::Error::Read && silent) {
      return {StreamEnd::Kind::timed_out, "the stream went silent", status, {}};
    }
    if (error == httplib::Error::Read) {
      return {StreamEnd::Kind::closed, "the connection was cut", status, {}};
    }
    return {StreamEnd::Kind::closed, wire::describe(error), status, {}};
  }
  return {StreamEnd::Kind::closed, "the server closed the stream", status, {}};
}

}  // namespace livechat::client
