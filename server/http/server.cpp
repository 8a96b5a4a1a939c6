#include "server/http/server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <spdlog/spdlog.h>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "server/http/httplib_backend.hpp"
#include "wire/auth.hpp"
#include "wire/tls.hpp"
#include "wire/url.hpp"

// The connection side of HttpServer: the accept loop, a thread per connection, TLS accept, and
// stopping (requests.cpp serves the requests of one connection in turn).

namespace livechat::server::http {

namespace {

// The connection the calling thread serves.
thread_local ConnectionStream* t_stream = nullptr;

// Returns the kernel's unique id of a socket (fd numbers are reused, cookies are not).
std::uint64_t socket_cookie(int fd) {
  std::uint64_t cookie = 0;
  socklen_t length = sizeof cookie;
  if (getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &length) != 0) {
    return 0;
  }
  return cookie;
}

void set_timeout(int fd, int option, std::chrono::seconds timeout) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count());
  setsockopt(fd, SOL_SOCKET, option, &tv, sizeof tv);
}

// Closes our side for writing, then reads and drops what the client still sends, for a
// moment: closing a socket with unread bytes resets it, and the client could lose the answer.
void linger_close(int fd) {
  ::shutdown(fd, SHUT_WR);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  char sink[4096];
  std::size_t dropped = 0;
  while (dropped < 256 * 1024) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
      return;
    }
    ssize_t n = ::recv(fd, sink, sizeof sink, MSG_DONTWAIT);
    if (n <= 0) {
      return;
    }
    dropped += static_cast<std::size_t>(n);
  }
}

}  // namespace

struct HttpServer::Connection {
  int fd = -1;
  SSL* ssl = nullptr;
  std::unique_ptr<ConnectionStream> stream;
  std::chrono::steady_clock::time_point idle_until;  // while parked
};

struct HttpServer::Start {
  HttpServer* server = nullptr;
  int fd = -1;                          // a new socket, or
  std::unique_ptr<Connection> resumed;  // an idle connection whose next request came
};

ConnectionStream* current_stream() { return t_stream; }

HttpServer::HttpServer(HttpServerOptions options)
    : m_options(std::move(options)), m_backend(std::make_unique<Backend>()) {
  m_tls_on = m_options.tls != nullptr;
  m_limits = std::make_unique<StreamLimits>();
  m_limits->read_timeout = m_options.read_timeout;
  m_limits->write_timeout = m_options.write_timeout;
  m_limits->request_timeout = m_options.request_timeout;
  m_limits->head.max_head_bytes = m_options.max_header_bytes;
  // Chunks' framing on top: a few bytes a chunk, and clients send large ones.
  m_limits->max_body_wire_bytes = 2 * m_options.max_body_bytes + 64 * 1024;
  warm_up();
  configure_backend();
}

HttpServer::~HttpServer() { stop(); }

void HttpServer::warm_up() {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    return;
  }
  static constexpr std::string_view k_request =
      "GET / HTTP/1.1\r\nHost: livechat\r\nRange: bytes=0-0\r\nConnection: close\r\n\r\n";
  if (::send(fds[0], k_request.data(), k_request.size(), MSG_NOSIGNAL) ==
      static_cast<ssize_t>(k_request.size())) {
    ::shutdown(fds[0], SHUT_WR);
    ConnectionStream stream(fds[1], nullptr, *m_limits);
    t_stream = &stream;
    serve_requests(stream, false);  // no route yet: cpp-httplib answers 404 into the socket pair
    t_stream = nullptr;
  }
  ::close(fds[0]);
  ::close(fds[1]);
}

std::string HttpServer::address() const {
  return (m_tls_on ? "https://" : "http://") + wire::host_port(m_options.host, m_port);
}

wire::Result<int> HttpServer::start() {
  auto& server = *m_backend;
  errno = 0;
  int port = m_options.port == 0
                 ? server.bind_to_any_port(m_options.host)
                 : (server.bind_to_port(m_options.host, m_options.port) ? m_options.port : -1);
  if (port <= 0) {
    int saved = errno;
    std::string why = saved == EADDRINUSE ? "the port is already in use (is another livechat "
                                            "running?)"
                      : saved != 0        ? std::strerror(saved)
                                          : "the address cannot be bound";
    return wire::Error{"listen_failed", "cannot listen on " + m_options.host + ":" +
                                            std::to_string(m_options.port) + ": " + why};
  }
  m_port = port;
  m_listen_fd = server.listen_socket().load();
  ::listen(m_listen_fd, m_options.backlog);
  fcntl(m_listen_fd, F_SETFL, fcntl(m_listen_fd, F_GETFL) | O_NONBLOCK);
  m_wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  m_idle_epoll = epoll_create1(EPOLL_CLOEXEC);
  epoll_event wake{};
  wake.events = EPOLLIN;
  wake.data.fd = m_wake_fd;
  epoll_ctl(m_idle_epoll, EPOLL_CTL_ADD, m_wake_fd, &wake);
  m_idler = std::thread([this] { idle_loop(); });
  m_acceptor = std::thread([this] { accept_loop(); });
  return port;
}

void HttpServer::accept_loop() {
  pollfd fds[2] = {{m_listen_fd, POLLIN, 0}, {m_wake_fd, POLLIN, 0}};
  while (!m_stopping.load()) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) {
        continue;
      }
      spdlog::error("poll on the listening socket failed: {}", std::strerror(errno));
      return;
    }
    if (fds[1].revents != 0) {
      return;
    }
    for (;;) {
      int fd = accept4(m_listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE) {
          auto now = std::chrono::steady_clock::now();
          if (now - m_last_emfile_warning > std::chrono::seconds(10)) {
            m_last_emfile_warning = now;
            spdlog::warn("out of file descriptors, new connections wait ({} open)",
                         m_connections.load());
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
        } else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
          spdlog::debug("accept failed: {}", std::strerror(errno));
        }
        break;
      }
      spawn_connection(fd);
    }
  }
}

void HttpServer::spawn_connection(int fd) {
  int yes = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
  set_timeout(fd, SO_RCVTIMEO, m_options.read_timeout);
  set_timeout(fd, SO_SNDTIMEO, m_options.write_timeout);
  {
    std::lock_guard lock(m_mutex);
    m_open.emplace(fd, socket_cookie(fd));
  }
  ++m_connections;
  auto start = std::make_unique<Start>();
  start->server = this;
  start->fd = fd;
  if (!spawn(start)) {
    Connection connection;
    connection.fd = fd;
    close_connection(connection, false);
  }
}

bool HttpServer::spawn(std::unique_ptr<Start>& start) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, m_options.thread_stack_bytes);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t thread;
  {
    std::lock_guard lock(m_mutex);
    ++m_threads;
  }
  Start* raw = start.release();
  int rc = pthread_create(&thread, &attr, &HttpServer::connection_main, raw);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    start.reset(raw);
    {
      std::lock_guard lock(m_mutex);
      --m_threads;
    }
    spdlog::warn("cannot start a thread for a connection ({}); closing it", std::strerror(rc));
    return false;
  }
  return true;
}

void HttpServer::serve_socket(int fd) {
  {
    std::lock_guard lock(m_mutex);
    m_open.emplace(fd, socket_cookie(fd));
  }
  ++m_connections;
  run_connection(fd, false);
}

void* HttpServer::connection_main(void* arg) {
  std::unique_ptr<Start> start(static_cast<Start*>(arg));
  HttpServer& server = *start->server;
  if (start->resumed) {
    server.serve_connection(std::move(start->resumed), true);
  } else {
    server.run_connection(start->fd, true);
  }
  start.reset();
  // The last touch of the server: once the count is down, stop() may return and it may go.
  std::lock_guard lock(server.m_mutex);
  --server.m_threads;
  server.m_drained.notify_all();
  return nullptr;
}

HandedConnection HttpServer::hand_off(ConnectionStream& stream) {
  stream.hand_off();
  {
    std::lock_guard lock(m_mutex);
    m_open.erase(stream.socket());
    --m_connections;
  }
  m_drained.notify_all();
  return {stream.socket(), stream.ssl()};
}

void HttpServer::run_connection(int fd, bool may_park) {
  auto connection = std::make_unique<Connection>();
  connection->fd = fd;
  if (m_tls_on && (connection->ssl = accept_tls(fd)) == nullptr) {
    close_connection(*connection, false);
    return;
  }
  connection->stream = std::make_unique<ConnectionStream>(fd, connection->ssl, *m_limits);
  serve_connection(std::move(connection), may_park && m_idle_epoll >= 0);
}

void HttpServer::serve_connection(std::unique_ptr<Connection> connection, bool may_park) {
  ConnectionStream& stream = *connection->stream;
  t_stream = &stream;
  Served served = Served::close;
  try {
    served = serve_requests(stream, may_park);
  } catch (const std::exception& e) {
    spdlog::error("connection failed: {}", e.what());
  }
  t_stream = nullptr;
  if (stream.handed_off()) {
    return;  // the stream route has the socket and the session, even if it threw afterwards
  }
  switch (served) {
    case Served::handed_off:
      return;  // a stream route has the socket and the session now
    case Served::park:
      park(std::move(connection));
      return;
    case Served::linger:
      close_connection(*connection, true);  // the client may still be sending: drain first
      return;
    case Served::close:
      close_connection(*connection, false);
      return;
  }
}

void HttpServer::park(std::unique_ptr<Connection> connection) {
  const int fd = connection->fd;
  connection->idle_until = std::chrono::steady_clock::now() + m_options.keep_alive_timeout;
  {
    std::lock_guard lock(m_mutex);
    if (!m_stopping.load()) {
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
      ev.data.fd = fd;
      auto& slot = m_parked[fd];
      slot = std::move(connection);
      if (epoll_ctl(m_idle_epoll, EPOLL_CTL_ADD, fd, &ev) == 0) {
        return;
      }
      connection = std::move(slot);
      m_parked.erase(fd);
    }
  }
  close_connection(*connection, false);
}

void HttpServer::idle_loop() {
  constexpr int k_sweep_ms = 250;  // how often idle connections are checked for their timeout
  epoll_event events[64];
  auto next_sweep = std::chrono::steady_clock::now();
  std::vector<std::unique_ptr<Connection>> woken;
  std::vector<std::unique_ptr<Connection>> expired;
  while (!m_stopping.load()) {
    int n = epoll_wait(m_idle_epoll, events, 64, k_sweep_ms);
    const auto now = std::chrono::steady_clock::now();
    {
      std::lock_guard lock(m_mutex);
      for (int i = 0; i < n; ++i) {
        auto it = m_parked.find(events[i].data.fd);
        if (it == m_parked.end()) {
          continue;  // the wake event
        }
        epoll_ctl(m_idle_epoll, EPOLL_CTL_DEL, it->first, nullptr);
        // Bytes first: a client may send its last request and hang up at once.
        ((events[i].events & EPOLLIN) != 0 ? woken : expired).push_back(std::move(it->second));
        m_parked.erase(it);
      }
      if (now >= next_sweep) {
        next_sweep = now + std::chrono::milliseconds(k_sweep_ms);
        for (auto it = m_parked.begin(); it != m_parked.end();) {
          if (it->second->idle_until <= now) {
            epoll_ctl(m_idle_epoll, EPOLL_CTL_DEL, it->first, nullptr);
            expired.push_back(std::move(it->second));
            it = m_parked.erase(it);
          } else {
            ++it;
          }
        }
      }
    }
    for (auto& connection : woken) {
      auto start = std::make_unique<Start>();
      start->server = this;
      start->resumed = std::move(connection);
      if (!spawn(start)) {
        close_connection(*start->resumed, false);
      }
    }
    for (auto& connection : expired) {
      close_connection(*connection, false);
    }
    woken.clear();
    expired.clear();
  }
  // Stopping: no idle connection gets another request. park() closes those that come later.
  {
    std::lock_guard lock(m_mutex);
    for (auto& [fd, connection] : m_parked) {
      expired.push_back(std::move(connection));
    }
    m_parked.clear();
  }
  for (auto& connection : expired) {
    close_connection(*connection, false);
  }
}

void HttpServer::close_connection(Connection& connection, bool linger) {
  const int fd = connection.fd;
  if (connection.ssl != nullptr) {
    SSL_shutdown(
        connection.ssl);  // close_notify, if the socket takes it (not after a broken write)
    ERR_clear_error();
    SSL_free(connection.ssl);
    connection.ssl = nullptr;
  }
  if (linger) {
    linger_close(fd);
  }
  std::lock_guard lock(m_mutex);
  ::shutdown(fd, SHUT_RDWR);
  ::close(fd);
  m_open.erase(fd);
  --m_connections;
  m_drained.notify_all();
}

std::size_t HttpServer::idle_connections() const {
  std::lock_guard lock(m_mutex);
  return m_parked.size();
}

ssl_st* HttpServer::accept_tls(int fd) {
  const auto deadline = std::chrono::steady_clock::now() + m_options.request_timeout;
  auto wait = [&](short events) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{fd, events, 0};
    return left.count() > 0 && ::poll(&p, 1, static_cast<int>(left.count())) > 0;
  };
  char first = 0;
  if (!wait(POLLIN) || ::recv(fd, &first, 1, MSG_PEEK) != 1) {
    return nullptr;
  }
  if (first != 0x16) {
    // Not a TLS handshake: most likely plain HTTP, which gets an answer it can show.
    static const std::string k_reply = closing_error_reply(
        {wire::ApiErrorKind::bad_request, "this port speaks HTTPS: use an https:// URL"});
    [[maybe_unused]] auto n = ::send(fd, k_reply.data(), k_reply.size(), MSG_NOSIGNAL);
    return nullptr;
  }
  std::shared_ptr<wire::TlsContext> tls;
  {
    std::lock_guard lock(m_tls_mutex);
    tls = m_options.tls;
  }
  SSL* ssl = SSL_new(tls->get());  // holds its own reference to the context
  if (ssl == nullptr) {
    spdlog::warn("cannot start TLS on a connection: {}", wire::last_tls_error());
    return nullptr;
  }
  SSL_set_fd(ssl, fd);
  int flags = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  bool done = false;
  for (;;) {
    int rc = SSL_accept(ssl);
    if (rc == 1) {
      done = true;
      break;
    }
    int error = SSL_get_error(ssl, rc);
    if (!((error == SSL_ERROR_WANT_READ && wait(POLLIN)) ||
          (error == SSL_ERROR_WANT_WRITE && wait(POLLOUT)))) {
      spdlog::debug("TLS handshake failed: {}",
                    error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE
                        ? "timed out"
                        : wire::last_tls_error());
      break;
    }
  }
  ERR_clear_error();
  if (!done) {
    fcntl(fd, F_SETFL, flags);
    SSL_free(ssl);
    return nullptr;
  }
  return ssl;
}

void HttpServer::stop() {
  if (m_stopping.exchange(true) || m_listen_fd < 0) {
    return;
  }
  // cpp-httplib's keep-alive loops and streams end once the server socket reads as invalid.
  m_backend->listen_socket().store(INVALID_SOCKET);
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(m_wake_fd, &one, sizeof one);
  if (m_acceptor.joinable()) {
    m_acceptor.join();
  }
  if (m_idler.joinable()) {
    m_idler.join();  // it closes every idle connection
  }
  ::shutdown(m_listen_fd, SHUT_RDWR);
  ::close(m_listen_fd);
  std::unique_lock lock(m_mutex);
  // A thread that handed its stream off may still be finishing the response's bookkeeping.
  auto drained = [&] { return m_open.empty() && m_threads == 0; };
  if (!m_drained.wait_for(lock, m_options.drain_timeout, drained)) {
    spdlog::debug("cutting {} connections that did not finish", m_open.size());
    for (auto [fd, cookie] : m_open) {
      // cpp-httplib closes a socket before its entry goes: check it is still the same one.
      if (socket_cookie(fd) == cookie) {
        ::shutdown(fd, SHUT_RDWR);
      }
    }
    m_drained.wait(lock, drained);
  }
  ::close(m_wake_fd);
  ::close(m_idle_epoll);
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
