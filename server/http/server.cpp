#include "server/http/server.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "server/http/event_loop.hpp"
#include "wire/auth.hpp"
#include "wire/tls.hpp"
#include "wire/url.hpp"

// The server side of HttpServer: the listening socket, its event loops and stopping
// (event_loop.cpp serves the connections, routes.cpp the routes).

namespace livechat::server::http {

HttpServer::HttpServer(HttpServerOptions options) : m_options(std::move(options)) {
  m_tls_on = m_options.tls != nullptr;
  // spdlog's registry is a function-local static of Debian's library, built on first use under
  // a guard TSan cannot see: built here, before any loop thread exists, it is seen to be built
  // before every loop logs (in a program that has not logged yet, like a test's).
  spdlog::default_logger_raw();
}

HttpServer::~HttpServer() { stop(); }

std::string HttpServer::address() const {
  return (m_tls_on ? "https://" : "http://") + wire::host_port(m_options.host, m_port);
}

namespace {

// Binds a listening socket to the first address of `host` that takes it; -1 with errno set.
int bind_listener(const std::string& host, int port, int backlog) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &found);
      rc != 0) {
    errno = EADDRNOTAVAIL;
    return -1;
  }
  int saved = EADDRNOTAVAIL;
  int fd = -1;
  for (addrinfo* at = found; at != nullptr; at = at->ai_next) {
    fd = ::socket(at->ai_family, at->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, at->ai_protocol);
    if (fd < 0) {
      saved = errno;
      continue;
    }
    int yes = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);  // not SO_REUSEPORT: a busy
                                                                 // port is an error
    if (::bind(fd, at->ai_addr, at->ai_addrlen) == 0 && ::listen(fd, backlog) == 0) {
      break;
    }
    saved = errno;
    ::close(fd);
    fd = -1;
  }
  freeaddrinfo(found);
  errno = saved;
  return fd;
}

}  // namespace

wire::Result<int> HttpServer::start() {
  errno = 0;
  int fd = bind_listener(m_options.host, m_options.port, m_options.backlog);
  if (fd < 0) {
    int saved = errno;
    std::string why = saved == EADDRINUSE ? "the port is already in use (is another livechat "
                                            "running?)"
                      : saved != 0        ? std::strerror(saved)
                                          : "the address cannot be bound";
    return wire::Error{"listen_failed", "cannot listen on " + m_options.host + ":" +
                                            std::to_string(m_options.port) + ": " + why};
  }
  sockaddr_storage bound{};
  socklen_t length = sizeof bound;
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length);
  m_port = bound.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6&>(bound).sin6_port)
                                       : ntohs(reinterpret_cast<sockaddr_in&>(bound).sin_port);
  m_listen_fd = fd;
  std::size_t loops = m_options.loop_threads;
  if (loops == 0) {
    loops = std::clamp<std::size_t>(std::thread::hardware_concurrency(), 1, 16);
  }
  for (std::size_t i = 0; i < loops; ++i) {
    m_loops.push_back(std::make_unique<EventLoop>(*this, m_listen_fd));
  }
  for (auto& loop : m_loops) {
    m_threads.emplace_back([&loop] { loop->run(); });
    pthread_setname_np(m_threads.back().native_handle(), "livechat-http");
  }
  return m_port;
}

void HttpServer::serve_socket(int fd) {
  EventLoop loop(*this, -1);
  loop.serve_one(fd);
}

void HttpServer::stop() {
  if (m_stopping.exchange(true) || m_listen_fd < 0) {
    return;
  }
  const auto cut_at = std::chrono::steady_clock::now() + m_options.drain_timeout;
  for (auto& loop : m_loops) {
    loop->stop(cut_at);
  }
  for (auto& thread : m_threads) {
    thread.join();
  }
  m_threads.clear();
  ::close(m_listen_fd);
}

std::size_t HttpServer::connections() const {
  std::size_t open = 0;
  for (const auto& loop : m_loops) {
    open += loop->open();
  }
  return open;
}

std::size_t HttpServer::idle_connections() const {
  std::size_t idle = 0;
  for (const auto& loop : m_loops) {
    idle += loop->idle();
  }
  return idle;
}

std::shared_ptr<wire::TlsContext> HttpServer::tls_context() const {
  std::lock_guard lock(m_tls_mutex);
  return m_options.tls;
}

void HttpServer::set_tls(std::shared_ptr<wire::TlsContext> tls) {
  std::lock_guard lock(m_tls_mutex);
  if (m_options.tls && tls) {
    m_options.tls = std::move(tls);
  }
}

std::string HttpServer::client_address(const httplib::Request& req) const {
  if (m_options.trust_proxy) {
    const std::string forwarded = req.get_header_value("X-Forwarded-For");
    if (auto client = wire::forwarded_client(forwarded)) {
      return std::string(*client);
    }
  }
  return req.remote_addr;
}

}  // namespace livechat::server::http
