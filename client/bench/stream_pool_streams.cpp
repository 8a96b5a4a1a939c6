#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "client/bench/stream_pool_loop.hpp"
#include "wire/tls.hpp"
#include "wire/url.hpp"

// One stream's life in a loop of the pool: its request, connect, TLS handshake, sending,
// receiving what the server sends, and its end (closed, failed, waiting to reconnect).

namespace livechat::client::bench {

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

std::string StreamPool::Loop::request(std::size_t local) const {
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

void StreamPool::Loop::begin(std::size_t local, Clock::time_point now) {
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
void StreamPool::Loop::want(std::size_t local, std::uint32_t events) {
  epoll_event event{};
  event.events = events;
  event.data.u64 = local;
  ::epoll_ctl(m_epoll, EPOLL_CTL_MOD, m_connections[local].fd, &event);
}

void StreamPool::Loop::handshake(std::size_t local) {
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

void StreamPool::Loop::handle(std::size_t local, std::uint32_t events) {
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

void StreamPool::Loop::send_request(std::size_t local) {
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
ssize_t StreamPool::Loop::read_bytes(PooledStream& c) {
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

void StreamPool::Loop::receive(std::size_t local) {
  // TLS may hold decrypted bytes the socket no longer shows: read until it has none.
  while (receive_once(local) && m_connections[local].ssl != nullptr) {
  }
}

// Reads once and hands on what came; false when nothing more can be read now.
bool StreamPool::Loop::receive_once(std::size_t local) {
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

void StreamPool::Loop::announce(std::size_t local) {
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

void StreamPool::Loop::release(std::size_t local) {
  auto& c = m_connections[local];
  close_connection(c);
  if (m_config.reconnect && c.ever_connected) {
    c.phase = PooledStream::Phase::waiting;
    m_reconnect_timers.push_back({Clock::now() + m_config.reconnect_delay, local, c.generation});
  } else {
    c.phase = PooledStream::Phase::done;
  }
}

void StreamPool::Loop::fail(std::size_t local, int status, const std::string& reason) {
  auto& c = m_connections[local];
  --m_in_flight;
  ++m_counters.failed;
  if (!c.ever_connected) {
    --m_counters.pending;
  }
  release(local);
  m_handler.on_failed(global(local), m_index, status, reason);
}

void StreamPool::Loop::end_stream(std::size_t local, const std::string& reason) {
  auto& c = m_connections[local];
  c.announced = false;
  --m_counters.connected;
  ++m_counters.closed;
  release(local);
  m_handler.on_closed(global(local), m_index, reason);
}

}  // namespace livechat::client::bench
