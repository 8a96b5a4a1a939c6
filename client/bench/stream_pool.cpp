#include "client/bench/stream_pool.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <deque>

#include "wire/open_files.hpp"
#include "wire/tls.hpp"
#include "wire/url.hpp"

namespace livechat::client::bench {
namespace {

using Clock = std::chrono::steady_clock;

// Where the service listens, resolved once for every connection.
struct Address {
  sockaddr_storage storage{};
  socklen_t length = 0;
};

// Tells whether a blocking connect to `address` succeeds within the timeout.
bool accepts(const Address& address, std::chrono::milliseconds timeout) {
  int fd = ::socket(address.storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return false;
  }
  bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&address.storage), address.length) == 0;
  if (!ok && errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    int error = 0;
    socklen_t length = sizeof error;
    ok = ::poll(&p, 1, static_cast<int>(timeout.count())) == 1 &&
         ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 && error == 0;
  }
  ::close(fd);
  return ok;
}

// Resolves the host; of several addresses ("localhost": ::1 and 127.0.0.1), takes one that
// accepts connections.
wire::Result<Address> resolve(const wire::Endpoint& endpoint, std::chrono::milliseconds timeout) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  int rc =
      ::getaddrinfo(endpoint.host.c_str(), std::to_string(endpoint.port).c_str(), &hints, &found);
  if (rc != 0) {
    return wire::Error{"unresolved", "cannot resolve " + endpoint.host + ": " + gai_strerror(rc)};
  }
  std::vector<Address> addresses;
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    Address address;
    std::memcpy(&address.storage, a->ai_addr, a->ai_addrlen);
    address.length = a->ai_addrlen;
    addresses.push_back(address);
  }
  ::freeaddrinfo(found);
  if (addresses.size() > 1) {
    for (const auto& address : addresses) {
      if (accepts(address, timeout)) {
        return address;
      }
    }
  }
  return addresses.front();
}

// One stream of the pool: its socket (and TLS session), where its request stands, and what its
// response has decoded so far.
struct PooledStream {
  enum class Phase { idle, connecting, handshaking, sending, reading, waiting, done };
  Phase phase = Phase::idle;
  int fd = -1;
  SSL* ssl = nullptr;      // https: the TLS session over fd
  bool announced = false;  // its `connected` event arrived
  bool ever_connected = false;
  std::uint32_t generation = 0;
  std::string out;
  std::size_t sent = 0;
  ResponseDecoder decoder;
};

struct Timer {
  Clock::time_point when;
  std::size_t local = 0;
  std::uint32_t generation = 0;
};

constexpr std::uint64_t k_wake_key = ~std::uint64_t{0};

// Closes a connection's TLS session and socket (which also leaves the epoll set).
void close_connection(PooledStream& c) {
  if (c.ssl != nullptr) {
    SSL_free(c.ssl);
    c.ssl = nullptr;
  }
  if (c.fd >= 0) {
    ::close(c.fd);
    c.fd = -1;
  }
}

// Makes the TLS setup of https:// streams: the server's certificate is checked against
// `ca_file` (PEM), or the system's CAs when empty; null, with `error` set, if it cannot.
std::shared_ptr<SSL_CTX> make_client_tls(const std::string& ca_file, std::string& error) {
  std::shared_ptr<SSL_CTX> ctx(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
  if (!ctx) {
    error = wire::last_tls_error();
    return nullptr;
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  int loaded = ca_file.empty() ? SSL_CTX_set_default_verify_paths(ctx.get())
                               : SSL_CTX_load_verify_locations(ctx.get(), ca_file.c_str(), nullptr);
  if (loaded != 1) {
    error = "cannot load the CA certificates " + ca_file + " (" + wire::last_tls_error() + ")";
    return nullptr;
  }
  return ctx;
}

}  // namespace

// One event-loop thread and the streams it serves: global index = local * loops + loop.
class StreamPool::Loop {
 public:
  Loop(const StreamPoolConfig& config, StreamHandler& handler, Counters& counters,
       std::size_t index, std::size_t streams, std::size_t max_connecting,
       std::vector<Address> addresses, std::vector<std::shared_ptr<SSL_CTX>> tls)
      : m_config(config),
        m_handler(handler),
        m_counters(counters),
        m_index(index),
        m_loops(std::max<std::size_t>(1, config.loops)),
        m_max_connecting(std::max<std::size_t>(1, max_connecting)),
        m_addresses(std::move(addresses)),
        m_tls(std::move(tls)),
        m_connections(streams),
        m_buffer(64 * 1024) {
    m_epoll = ::epoll_create1(EPOLL_CLOEXEC);
    m_wake = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = k_wake_key;
    ::epoll_ctl(m_epoll, EPOLL_CTL_ADD, m_wake, &event);
    for (std::size_t i = 0; i < streams; ++i) {
      m_queue.push_back(i);
    }
  }

  ~Loop() {
    for (auto& c : m_connections) {
      close_connection(c);
    }
    ::close(m_wake);
    ::close(m_epoll);
  }

  void wake() {
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(m_wake, &one, sizeof one);
  }

  void run(const std::atomic<bool>& stop) {
    std::vector<epoll_event> events(1024);
    while (!stop.load()) {
      auto now = Clock::now();
      start_due(now);
      int n = ::epoll_wait(m_epoll, events.data(), static_cast<int>(events.size()), wait_ms(now));
      for (int i = 0; i < n && !stop.load(); ++i) {
        if (events[i].data.u64 != k_wake_key) {
          handle(static_cast<std::size_t>(events[i].data.u64), events[i].events);
        }
      }
      expire(Clock::now());
    }
    for (auto& c : m_connections) {
      close_connection(c);
      if (c.announced) {
        c.announced = false;
        --m_counters.connected;
      }
    }
  }

 private:
  std::size_t global(std::size_t local) const { return local * m_loops + m_index; }

  int wait_ms(Clock::time_point now) const {
    auto next = now + std::chrono::milliseconds(100);
    if (!m_connect_timers.empty()) {
      next = std::min(next, m_connect_timers.front().when);
    }
    if (!m_reconnect_timers.empty() && m_in_flight < m_max_connecting) {
      next = std::min(next, m_reconnect_timers.front().when);
    }
    auto ms = std::chrono::ceil<std::chrono::milliseconds>(next - now).count();
    return static_cast<int>(std::max<long>(0, ms));
  }

  void start_due(Clock::time_point now) {
    while (m_in_flight < m_max_connecting && !m_reconnect_timers.empty() &&
           m_reconnect_timers.front().when <= now) {
      Timer timer = m_reconnect_timers.front();
      m_reconnect_timers.pop_front();
      auto& c = m_connections[timer.local];
      if (c.phase == PooledStream::Phase::waiting && c.generation == timer.generation) {
        begin(timer.local, now);
      }
    }
    while (m_in_flight < m_max_connecting && !m_queue.empty()) {
      std::size_t local = m_queue.front();
      m_queue.pop_front();
      begin(local, now);
    }
  }

  void expire(Clock::time_point now) {
    while (!m_connect_timers.empty() && m_connect_timers.front().when <= now) {
      Timer timer = m_connect_timers.front();
      m_connect_timers.pop_front();
      auto& c = m_connections[timer.local];
      bool opening = c.phase == PooledStream::Phase::connecting ||
                     c.phase == PooledStream::Phase::handshaking ||
                     c.phase == PooledStream::Phase::sending ||
                     (c.phase == PooledStream::Phase::reading && !c.announced);
      if (opening && c.generation == timer.generation) {
        fail(timer.local, 0, "no connected event within the connect timeout");
      }
    }
  }

  std::string request(std::size_t local) const {
    const auto& c = m_connections[local];
    const auto& e = m_config.endpoints[global(local) % m_config.endpoints.size()];
    std::string out = "GET " + m_config.target +
                      " HTTP/1.1\r\nHost: " + wire::host_port(e.host, e.port) +
                      "\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n";
    const auto& last_id = c.decoder.parser().last_event_id();
    if (!last_id.empty()) {
      out += "Last-Event-ID: " + last_id + "\r\n";
    }
    return out + "\r\n";
  }

  void begin(std::size_t local, Clock::time_point now) {
    auto& c = m_connections[local];
    ++c.generation;
    ++m_in_flight;
    c.announced = false;
    c.decoder.restart();
    c.out = request(local);
    c.sent = 0;
    m_connect_timers.push_back({now + m_config.connect_timeout, local, c.generation});
    const auto& address = m_addresses[global(local) % m_addresses.size()];
    c.fd = ::socket(address.storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.fd < 0) {
      fail(local, 0, std::string("cannot open a socket: ") + std::strerror(errno));
      return;
    }
    int one = 1;
    ::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int rc = ::connect(c.fd, reinterpret_cast<const sockaddr*>(&address.storage), address.length);
    if (rc != 0 && errno != EINPROGRESS) {
      fail(local, 0, std::string("cannot connect: ") + std::strerror(errno));
      return;
    }
    if (const auto& tls = m_tls[global(local) % m_tls.size()]) {
      const auto& endpoint = m_config.endpoints[global(local) % m_config.endpoints.size()];
      c.ssl = SSL_new(tls.get());
      SSL_set_fd(c.ssl, c.fd);
      // The certificate must name the host the URL names.
      X509_VERIFY_PARAM* param = SSL_get0_param(c.ssl);
      in6_addr scratch{};
      if (::inet_pton(AF_INET, endpoint.host.c_str(), &scratch) == 1 ||
          ::inet_pton(AF_INET6, endpoint.host.c_str(), &scratch) == 1) {
        X509_VERIFY_PARAM_set1_ip_asc(param, endpoint.host.c_str());
      } else {
        X509_VERIFY_PARAM_set1_host(param, endpoint.host.c_str(), 0);
        // SSL_set_tlsext_host_name, without the macro's C cast.
        SSL_ctrl(c.ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                 const_cast<char*>(endpoint.host.c_str()));
      }
    }
    if (rc != 0) {
      c.phase = PooledStream::Phase::connecting;
    } else {
      c.phase = c.ssl != nullptr ? PooledStream::Phase::handshaking : PooledStream::Phase::sending;
    }
    epoll_event event{};
    event.events = EPOLLOUT;
    event.data.u64 = local;
    ::epoll_ctl(m_epoll, EPOLL_CTL_ADD, c.fd, &event);
  }

  // Waits for the socket to turn readable or writable, as TLS asks.
  void want(std::size_t local, std::uint32_t events) {
    epoll_event event{};
    event.events = events;
    event.data.u64 = local;
    ::epoll_ctl(m_epoll, EPOLL_CTL_MOD, m_connections[local].fd, &event);
  }

  void handshake(std::size_t local) {
    auto& c = m_connections[local];
    int rc = SSL_connect(c.ssl);
    if (rc == 1) {
      c.phase = PooledStream::Phase::sending;
      want(local, EPOLLOUT);
      send_request(local);
      return;
    }
    int error = SSL_get_error(c.ssl, rc);
    if (error == SSL_ERROR_WANT_READ) {
      want(local, EPOLLIN);
    } else if (error == SSL_ERROR_WANT_WRITE) {
      want(local, EPOLLOUT);
    } else {
      long verified = SSL_get_verify_result(c.ssl);
      fail(local, 0,
           verified != X509_V_OK ? std::string("the server's certificate is not trusted (") +
                                       X509_verify_cert_error_string(verified) + ")"
                                 : "TLS handshake failed (" + wire::last_tls_error() + ")");
    }
  }

  void handle(std::size_t local, std::uint32_t events) {
    auto& c = m_connections[local];
    if (c.phase == PooledStream::Phase::connecting) {
      int error = 0;
      socklen_t length = sizeof error;
      ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &error, &length);
      if (error != 0) {
        fail(local, 0, std::string("cannot connect: ") + std::strerror(error));
        return;
      }
      c.phase = c.ssl != nullptr ? PooledStream::Phase::handshaking : PooledStream::Phase::sending;
    }
    if (c.phase == PooledStream::Phase::handshaking) {
      handshake(local);
    } else if (c.phase == PooledStream::Phase::sending) {
      send_request(local);
    } else if (c.phase == PooledStream::Phase::reading &&
               (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
      receive(local);
    }
  }

  void send_request(std::size_t local) {
    auto& c = m_connections[local];
    ssize_t n = 0;
    if (c.ssl != nullptr) {
      int rc = SSL_write(c.ssl, c.out.data() + c.sent, static_cast<int>(c.out.size() - c.sent));
      if (rc <= 0) {
        int error = SSL_get_error(c.ssl, rc);
        if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) {
          fail(local, 0, "cannot send the request (" + wire::last_tls_error() + ")");
        }
        return;
      }
      n = rc;
    } else {
      n = ::send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
    }
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        fail(local, 0, std::string("cannot send the request: ") + std::strerror(errno));
      }
      return;
    }
    c.sent += static_cast<std::size_t>(n);
    if (c.sent == c.out.size()) {
      c.out.clear();
      c.out.shrink_to_fit();
      c.phase = PooledStream::Phase::reading;
      epoll_event event{};
      event.events = EPOLLIN | EPOLLRDHUP;
      event.data.u64 = local;
      ::epoll_ctl(m_epoll, EPOLL_CTL_MOD, c.fd, &event);
    }
  }

  // Reads what the connection has: bytes (> 0), its end (0), nothing yet (-2), or an error (-1).
  ssize_t read_bytes(PooledStream& c) {
    if (c.ssl == nullptr) {
      ssize_t n = ::recv(c.fd, m_buffer.data(), m_buffer.size(), 0);
      return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? -2 : n;
    }
    int n = SSL_read(c.ssl, m_buffer.data(), static_cast<int>(m_buffer.size()));
    if (n > 0) {
      return n;
    }
    int error = SSL_get_error(c.ssl, n);
    if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
      return -2;
    }
    ERR_clear_error();
    if (error == SSL_ERROR_ZERO_RETURN || (error == SSL_ERROR_SYSCALL && errno == 0)) {
      return 0;
    }
    errno = error == SSL_ERROR_SYSCALL ? errno : EPROTO;
    return -1;
  }

  void receive(std::size_t local) {
    // TLS may hold decrypted bytes the socket no longer shows: read until it has none.
    while (receive_once(local) && m_connections[local].ssl != nullptr) {
    }
  }

  // Reads once and hands on what came; false when nothing more can be read now.
  bool receive_once(std::size_t local) {
    auto& c = m_connections[local];
    errno = 0;
    ssize_t n = read_bytes(c);
    if (n == -2) {
      return false;
    }
    if (n <= 0) {
      std::string why = n == 0 ? "the server closed the stream"
                               : std::string("the stream broke: ") + std::strerror(errno);
      if (c.announced) {
        end_stream(local, why);
      } else {
        fail(local, c.decoder.status(), why);
      }
      return false;
    }
    auto received = Clock::now();
    bool on_head = m_config.connected_on_head;
    auto state = c.decoder.feed({m_buffer.data(), static_cast<std::size_t>(n)},
                                [&](const wire::sse::Event& event) {
                                  if (!c.announced && (on_head || event.type == "connected")) {
                                    announce(local);
                                    if (!on_head) {
                                      return;
                                    }
                                  }
                                  m_handler.on_event(global(local), m_index, event, received);
                                });
    if (on_head && !c.announced && state == ResponseDecoder::State::body) {
      announce(local);
    }
    if (state == ResponseDecoder::State::failed) {
      if (c.announced) {
        end_stream(local, c.decoder.error());
      } else {
        fail(local, c.decoder.status(), c.decoder.error());
      }
      return false;
    }
    if (state == ResponseDecoder::State::ended) {
      if (c.announced) {
        end_stream(local, "the server ended the stream");
      } else {
        fail(local, c.decoder.status(),
             on_head ? "the stream ended at once" : "the stream ended before its connected event");
      }
      return false;
    }
    return c.phase == PooledStream::Phase::reading;
  }

  void announce(std::size_t local) {
    auto& c = m_connections[local];
    c.announced = true;
    --m_in_flight;
    ++m_counters.connected;
    if (c.ever_connected) {
      ++m_counters.reconnects;
    } else {
      c.ever_connected = true;
      --m_counters.pending;
    }
    m_handler.on_connected(global(local), m_index);
  }

  void release(std::size_t local) {
    auto& c = m_connections[local];
    close_connection(c);
    if (m_config.reconnect && c.ever_connected) {
      c.phase = PooledStream::Phase::waiting;
      m_reconnect_timers.push_back({Clock::now() + m_config.reconnect_delay, local, c.generation});
    } else {
      c.phase = PooledStream::Phase::done;
    }
  }

  void fail(std::size_t local, int status, const std::string& reason) {
    auto& c = m_connections[local];
    --m_in_flight;
    ++m_counters.failed;
    if (!c.ever_connected) {
      --m_counters.pending;
    }
    release(local);
    m_handler.on_failed(global(local), m_index, status, reason);
  }

  void end_stream(std::size_t local, const std::string& reason) {
    auto& c = m_connections[local];
    c.announced = false;
    --m_counters.connected;
    ++m_counters.closed;
    release(local);
    m_handler.on_closed(global(local), m_index, reason);
  }

  const StreamPoolConfig& m_config;
  StreamHandler& m_handler;
  Counters& m_counters;
  std::size_t m_index;
  std::size_t m_loops;
  std::size_t m_max_connecting;
  std::vector<Address> m_addresses;             // one per endpoint
  std::vector<std::shared_ptr<SSL_CTX>> m_tls;  // one per endpoint; null: plain HTTP
  std::vector<PooledStream> m_connections;
  std::vector<char> m_buffer;
  std::deque<std::size_t> m_queue;
  std::deque<Timer> m_connect_timers;
  std::deque<Timer> m_reconnect_timers;
  std::size_t m_in_flight = 0;
  int m_epoll = -1;
  int m_wake = -1;
};

StreamPool::StreamPool(StreamPoolConfig config, StreamHandler& handler)
    : m_config(std::move(config)), m_handler(handler) {}

StreamPool::~StreamPool() { stop(); }

std::optional<wire::Error> StreamPool::start() {
  wire::raise_open_files_limit();
  if (m_config.endpoints.empty()) {
    return wire::Error{"no_endpoint", "no notification service to stream from"};
  }
  std::vector<Address> addresses;
  std::vector<std::shared_ptr<SSL_CTX>> tls;
  for (const auto& endpoint : m_config.endpoints) {
    auto address = resolve(endpoint, m_config.connect_timeout);
    if (!address) {
      return address.error();
    }
    addresses.push_back(*address);
    tls.emplace_back();
    if (endpoint.scheme == "https") {
      std::string error;
      tls.back() = make_client_tls(endpoint.ca_file, error);
      if (!tls.back()) {
        return wire::Error{"tls_failed", error};
      }
    }
  }
  std::size_t loops = std::clamp<std::size_t>(m_config.loops, 1, 2);
  loops = std::max<std::size_t>(1, std::min(loops, m_config.streams));
  m_config.loops = loops;
  m_counters.pending = m_config.streams;
  for (std::size_t i = 0; i < loops; ++i) {
    std::size_t streams = m_config.streams / loops + (i < m_config.streams % loops ? 1 : 0);
    std::size_t max_connecting = m_config.max_connecting / loops;
    m_loops.push_back(std::make_unique<Loop>(m_config, m_handler, m_counters, i, streams,
                                             max_connecting, addresses, tls));
  }
  m_stop = false;
  for (auto& loop : m_loops) {
    m_threads.emplace_back([this, l = loop.get()] { l->run(m_stop); });
  }
  return std::nullopt;
}

void StreamPool::stop() {
  m_stop = true;
  for (auto& loop : m_loops) {
    loop->wake();
  }
  for (auto& thread : m_threads) {
    thread.join();
  }
  m_threads.clear();
  m_loops.clear();
}

}  // namespace livechat::client::bench
