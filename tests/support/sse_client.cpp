#include "tests/support/sse_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <httplib.h>

#include <stdexcept>

namespace livechat::test {

SseClient::SseClient(int port, std::string target, std::map<std::string, std::string> headers) {
  m_client = std::make_unique<httplib::Client>("127.0.0.1", port);
  m_client->set_read_timeout(60, 0);
  httplib::Headers request_headers;
  for (auto& [key, value] : headers) {
    request_headers.emplace(key, value);
  }
  m_thread = std::thread([this, target = std::move(target), request_headers] {
    m_client->Get(
        target, request_headers,
        [&](const httplib::Response& response) {
          std::lock_guard lock(m_mutex);
          m_status = response.status;
          m_headers.insert(response.headers.begin(), response.headers.end());
          m_changed.notify_all();
          return true;
        },
        [&](const char* data, std::size_t length) {
          std::lock_guard lock(m_mutex);
          m_raw.append(data, length);
          m_parser.feed({data, length},
                        [&](const wire::sse::Event& event) { m_events.push_back(event); });
          m_changed.notify_all();
          return !m_stop.load();
        });
    std::lock_guard lock(m_mutex);
    m_ended = true;
    m_changed.notify_all();
  });
}

SseClient::~SseClient() { close(); }

void SseClient::close() {
  m_stop = true;
  m_client->stop();
  if (m_thread.joinable()) {
    m_thread.join();
  }
}

bool SseClient::wait_connected(std::chrono::milliseconds timeout) {
  std::unique_lock lock(m_mutex);
  return m_changed.wait_for(lock, timeout,
                            [&] {
                              for (const auto& e : m_events) {
                                if (e.type == "connected") {
                                  return true;
                                }
                              }
                              return m_ended;
                            }) &&
         !m_events.empty() && m_events.front().type == "connected";
}

bool SseClient::wait_messages(std::size_t count, std::chrono::milliseconds timeout) {
  std::unique_lock lock(m_mutex);
  return m_changed.wait_for(lock, timeout, [&] {
    std::size_t n = 0;
    for (const auto& e : m_events) {
      n += e.type == "message" ? 1 : 0;
    }
    return n >= count;
  });
}

bool SseClient::wait_ended(std::chrono::milliseconds timeout) {
  std::unique_lock lock(m_mutex);
  return m_changed.wait_for(lock, timeout, [&] { return m_ended; });
}

std::vector<wire::sse::Event> SseClient::events() const {
  std::lock_guard lock(m_mutex);
  return m_events;
}

std::vector<wire::sse::Event> SseClient::messages() const {
  std::lock_guard lock(m_mutex);
  std::vector<wire::sse::Event> out;
  for (const auto& e : m_events) {
    if (e.type == "message") {
      out.push_back(e);
    }
  }
  return out;
}

std::string SseClient::raw() const {
  std::lock_guard lock(m_mutex);
  return m_raw;
}

int SseClient::status() const {
  std::lock_guard lock(m_mutex);
  return m_status;
}

std::string SseClient::header(const std::string& name) const {
  std::lock_guard lock(m_mutex);
  auto it = m_headers.find(name);
  return it == m_headers.end() ? "" : it->second;
}

bool SseClient::ended() const {
  std::lock_guard lock(m_mutex);
  return m_ended;
}

StalledClient::StalledClient(int port, const std::string& target, int receive_buffer) {
  m_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  // A small receive buffer fills fast, so the server sees a full socket sooner.
  if (receive_buffer > 0) {
    setsockopt(m_fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(m_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    throw std::runtime_error("connect failed");
  }
  std::string request = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  if (::send(m_fd, request.data(), request.size(), MSG_NOSIGNAL) < 0) {
    throw std::runtime_error("send failed");
  }
}

StalledClient::~StalledClient() { ::close(m_fd); }

bool StalledClient::closed_by_server() {
  char buffer[65536];
  for (;;) {
    ssize_t n = ::recv(m_fd, buffer, sizeof buffer, MSG_DONTWAIT);
    if (n == 0) {
      return true;
    }
    if (n < 0) {
      return errno != EAGAIN && errno != EWOULDBLOCK;
    }
  }
}

}  // namespace livechat::test
