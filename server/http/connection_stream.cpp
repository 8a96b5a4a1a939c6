#include "server/http/httplib_backend.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>

namespace livechat::server::http {
namespace {

// What one read from the transport asks for at most.
constexpr std::size_t k_read_size = 4096;
// A buffer grown past this by a large head is given back once it is empty: thousands of
// streams park on their connections.
constexpr std::size_t k_kept_buffer = 2 * k_read_size;
// Empty lines passed over before a request line; more are a malformed request.
constexpr std::size_t k_max_empty_lines = 8;

int to_ms(std::chrono::milliseconds d) {
  return static_cast<int>(std::clamp<long long>(d.count(), 0, 1'000'000'000));
}

// Waits for `events` on `fd`; true when they came.
bool wait_for(int fd, short events, std::chrono::milliseconds timeout) {
  pollfd p{fd, events, 0};
  for (;;) {
    int n = ::poll(&p, 1, to_ms(timeout));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    return n > 0 && (p.revents & (events | POLLHUP | POLLERR)) != 0;
  }
}

void address_of(const sockaddr_storage& addr, std::string& ip, int& port) {
  char text[INET6_ADDRSTRLEN] = "";
  if (addr.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(addr);
    inet_ntop(AF_INET, &v4.sin_addr, text, sizeof text);
    port = ntohs(v4.sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(addr);
    inet_ntop(AF_INET6, &v6.sin6_addr, text, sizeof text);
    port = ntohs(v6.sin6_port);
  }
  ip = text;
}

}  // namespace

ConnectionStream::ConnectionStream(int fd, SSL* ssl, const StreamLimits& limits)
    : m_fd(fd), m_ssl(ssl), m_limits(limits) {}

bool ConnectionStream::has_buffered() const {
  return m_begin < m_buffer.size() || (m_ssl != nullptr && SSL_pending(m_ssl) > 0);
}

ConnectionStream::Wait ConnectionStream::wait_for_request(std::chrono::milliseconds timeout,
                                                          int wake_fd) {
  if (has_buffered()) {
    return Wait::request;  // a pipelined request
  }
  pollfd fds[2] = {{m_fd, POLLIN, 0}, {wake_fd, POLLIN, 0}};
  for (;;) {
    int n = ::poll(fds, wake_fd >= 0 ? 2 : 1, to_ms(timeout));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n == 0) {
      return Wait::idle;
    }
    return n > 0 && fds[1].revents == 0 && (fds[0].revents & POLLIN) != 0 ? Wait::request
                                                                          : Wait::closed;
  }
}

void ConnectionStream::begin_request() {
  m_deadline_on = true;
  m_head_bytes = 0;
  m_served = 0;
  m_deadline = Clock::now() + m_limits.request_timeout;
  m_breach = Breach::none;
  m_close_after = false;
}

std::optional<wire::Result<wire::RequestHead, wire::ApiError>> ConnectionStream::read_head() {
  std::size_t skipped = 0;
  for (;;) {
    // RFC 9112 2.2: empty lines before a request line are passed over (a few).
    while (m_buffer.compare(m_begin, 2, "\r\n") == 0 && skipped < k_max_empty_lines) {
      m_begin += 2;
      ++skipped;
    }
    std::string_view pending = std::string_view(m_buffer).substr(m_begin);
    std::size_t size = wire::head_size(pending);
    if (size > 0) {
      auto head = wire::parse_head(pending.substr(0, size), m_limits.head);
      if (head && head->unframed) {
        // What cpp-httplib reads next must say so too, or it reads to the end of the stream.
        constexpr std::string_view k_no_body = "Content-Length: 0\r\n";
        m_buffer.insert(m_begin + size - 2, k_no_body);
        size += k_no_body.size();
      }
      m_head_bytes = size;
      return head;
    }
    if (auto error = wire::check_partial_head(pending, m_limits.head)) {
      return *error;
    }
    if (!fill()) {
      if (m_timed_out && !pending.empty()) {
        return wire::ApiError{wire::ApiErrorKind::request_timeout,
                              "the request did not arrive in time"};
      }
      return std::nullopt;
    }
  }
}

bool ConnectionStream::is_readable() const {
  if (m_handed_off) {
    return false;
  }
  return has_buffered() || wait_for(m_fd, POLLIN, m_limits.read_timeout);
}

bool ConnectionStream::is_writable() const {
  if (m_handed_off) {
    return false;
  }
  return wait_for(m_fd, POLLOUT, m_limits.write_timeout);
}

bool ConnectionStream::wait_readable(short events) {
  if (events == POLLIN && m_ssl != nullptr && SSL_pending(m_ssl) > 0) {
    return true;
  }
  auto wait = m_limits.read_timeout;
  bool deadline_first = false;  // the request's deadline comes before the read timeout
  if (m_deadline_on) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(m_deadline - Clock::now());
    if (left.count() <= 0) {
      // A hard deadline: bytes that keep coming do not buy more time.
      m_timed_out = true;
      m_breach = Breach::too_slow;
      return false;
    }
    deadline_first = left <= wait;
    wait = std::min(wait, left);
  }
  if (!wait_for(m_fd, events, wait)) {
    m_timed_out = true;
    if (deadline_first) {
      m_breach = Breach::too_slow;
    }
    return false;
  }
  return true;
}

bool ConnectionStream::fill() {
  m_timed_out = false;
  if (m_breach != Breach::none) {
    return false;
  }
  m_buffer.erase(0, m_begin);  // what was handed on already
  m_begin = 0;
  const std::size_t had = m_buffer.size();
  m_buffer.resize(had + k_read_size);
  char* into = m_buffer.data() + had;
  ssize_t n = -1;
  // A TLS socket does not block: a record that trickles in is waited for within the limits
  // like any other bytes, not inside SSL_read.
  for (short events = POLLIN; wait_readable(events);) {
    if (m_ssl != nullptr) {
      n = SSL_read(m_ssl, into, static_cast<int>(k_read_size));
      int error = n > 0 ? SSL_ERROR_NONE : SSL_get_error(m_ssl, static_cast<int>(n));
      if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
        events = error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
        continue;
      }
    } else {
      n = ::recv(m_fd, into, k_read_size, 0);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
        continue;
      }
    }
    break;
  }
  m_buffer.resize(had + static_cast<std::size_t>(std::max<ssize_t>(n, 0)));
  return n > 0;
}

ssize_t ConnectionStream::read(char* ptr, std::size_t size) {
  if (m_handed_off) {
    return -1;
  }
  if (m_begin == m_buffer.size() && !fill()) {
    return -1;
  }
  std::size_t n = std::min(size, m_buffer.size() - m_begin);
  if (m_served + n > m_head_bytes + m_limits.max_body_wire_bytes && m_head_bytes > 0) {
    m_breach = Breach::too_large;  // a chunked body past any size this server takes
    return -1;
  }
  std::memcpy(ptr, m_buffer.data() + m_begin, n);
  m_begin += n;
  m_served += n;
  if (m_begin == m_buffer.size()) {
    m_buffer.clear();
    m_begin = 0;
    if (m_buffer.capacity() > k_kept_buffer) {
      m_buffer.shrink_to_fit();  // a large head's buffer, given back before a stream parks
    }
  }
  return static_cast<ssize_t>(n);
}

ssize_t ConnectionStream::write(const char* ptr, std::size_t size) {
  if (m_handed_off) {
    return -1;  // the socket is someone else's now
  }
  // The answer has begun, so the request is in; but "100 Continue" asks for the body, which is
  // still on the clock.
  constexpr std::string_view k_continue = "HTTP/1.1 100";
  if (std::string_view(ptr, std::min(size, k_continue.size())) != k_continue) {
    m_deadline_on = false;
  }
  if (m_ssl != nullptr) {
    if (size == 0) {
      return 0;
    }
    const int length = static_cast<int>(std::min<std::size_t>(size, INT32_MAX));
    for (;;) {
      int n = SSL_write(m_ssl, ptr, length);
      if (n > 0) {
        return n;
      }
      int error = SSL_get_error(m_ssl, n);
      if (!((error == SSL_ERROR_WANT_WRITE && wait_for(m_fd, POLLOUT, m_limits.write_timeout)) ||
            (error == SSL_ERROR_WANT_READ && wait_for(m_fd, POLLIN, m_limits.write_timeout)))) {
        return -1;
      }
    }
  }
  for (;;) {
    ssize_t n = ::send(m_fd, ptr, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    return n;
  }
}

void ConnectionStream::get_remote_ip_and_port(std::string& ip, int& port) const {
  sockaddr_storage addr{};
  socklen_t length = sizeof addr;
  if (getpeername(m_fd, reinterpret_cast<sockaddr*>(&addr), &length) == 0) {
    address_of(addr, ip, port);
  }
}

void ConnectionStream::get_local_ip_and_port(std::string& ip, int& port) const {
  sockaddr_storage addr{};
  socklen_t length = sizeof addr;
  if (getsockname(m_fd, reinterpret_cast<sockaddr*>(&addr), &length) == 0) {
    address_of(addr, ip, port);
  }
}

}  // namespace livechat::server::http
