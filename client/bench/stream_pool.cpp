#include "client/bench/stream_pool.hpp"

#include <netdb.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "client/bench/stream_pool_loop.hpp"
#include "wire/open_files.hpp"
#include "wire/tls.hpp"
#include "wire/url.hpp"

// The pool: resolving the endpoints, its loops' threads, and each loop's wait, starts and
// timeouts (stream_pool_streams.cpp has one stream's life).

namespace livechat::client::bench {
namespace {

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

constexpr std::uint64_t k_wake_key = ~std::uint64_t{0};

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

StreamPool::Loop::Loop(const StreamPoolConfig& config, StreamHandler& handler, Counters& counters,
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

StreamPool::Loop::~Loop() {
  for (auto& c : m_connections) {
    close_connection(c);
  }
  ::close(m_wake);
  ::close(m_epoll);
}

void StreamPool::Loop::wake() {
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(m_wake, &one, sizeof one);
}

void StreamPool::Loop::run(const std::atomic<bool>& stop) {
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

int StreamPool::Loop::wait_ms(Clock::time_point now) const {
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

void StreamPool::Loop::start_due(Clock::time_point now) {
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

void StreamPool::Loop::expire(Clock::time_point now) {
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