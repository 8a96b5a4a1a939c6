#include "tests/support/tcp_proxy.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace livechat::test {

// One accepted connection and its connection to the target, relayed by a thread of its own.
struct TcpProxy::Link {
  int client_fd = -1;
  int wake_fd = -1;
  std::atomic<bool> cut{false};
  std::atomic<bool> done{false};
  std::thread thread;
};

namespace {

constexpr int k_backlog = 128;
constexpr std::size_t k_chunk = 65536;
// A safety net only: every wait is also woken by its eventfd.
constexpr int k_poll_ms = 1000;

sockaddr_in loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  return addr;
}

void wake(int fd) {
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(fd, &one, sizeof one);
}

// Closes a socket so that the peer gets a reset rather than an orderly end.
void close_with_reset(int fd) {
  linger abort{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
  ::close(fd);
}

int connect_to(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return -1;
  }
  auto addr = loopback(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

void set_non_blocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

// Bytes read from one socket and not yet written to the other.
struct Direction {
  int from = -1;
  int to = -1;
  std::string pending;

  // Reads what `from` has; returns false when it ended or failed.
  bool read_some() {
    char buffer[k_chunk];
    ssize_t n = ::recv(from, buffer, sizeof buffer, 0);
    if (n > 0) {
      pending.append(buffer, static_cast<std::size_t>(n));
      return true;
    }
    return n < 0 && (errno == EAGAIN || errno == EINTR);
  }

  // Writes what `to` takes of the pending bytes; returns false when it failed.
  bool write_some() {
    ssize_t n = ::send(to, pending.data(), pending.size(), MSG_NOSIGNAL);
    if (n >= 0) {
      pending.erase(0, static_cast<std::size_t>(n));
      return true;
    }
    return errno == EAGAIN || errno == EINTR;
  }
};

}  // namespace

TcpProxy::TcpProxy(int target_port) : m_target_port(target_port) {
  m_listen_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  m_wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  auto addr = loopback(0);
  socklen_t length = sizeof addr;
  if (m_listen_fd < 0 || m_wake_fd < 0 ||
      ::bind(m_listen_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(m_listen_fd, k_backlog) != 0 ||
      ::getsockname(m_listen_fd, reinterpret_cast<sockaddr*>(&addr), &length) != 0) {
    std::string reason = std::strerror(errno);
    ::close(m_listen_fd);
    ::close(m_wake_fd);
    throw std::runtime_error("tcp proxy: cannot listen on 127.0.0.1: " + reason);
  }
  m_port = ntohs(addr.sin_port);
  m_acceptor = std::thread([this] { accept_loop(); });
}

TcpProxy::~TcpProxy() {
  m_stopping = true;
  wake(m_wake_fd);
  m_acceptor.join();
  std::list<std::shared_ptr<Link>> links;
  {
    std::lock_guard lock(m_mutex);
    links.swap(m_links);
  }
  for (auto& link : links) {
    wake(link->wake_fd);
  }
  for (auto& link : links) {
    link->thread.join();
    ::close(link->wake_fd);
  }
  ::close(m_listen_fd);
  ::close(m_wake_fd);
}

std::size_t TcpProxy::cut_all() {
  std::lock_guard lock(m_mutex);
  std::size_t cut = 0;
  for (auto& link : m_links) {
    if (!link->done && !link->cut) {
      link->cut = true;
      wake(link->wake_fd);
      ++cut;
    }
  }
  return cut;
}

void TcpProxy::set_refusing(bool refusing) { m_refusing = refusing; }

void TcpProxy::lose_answers(std::size_t every) { m_lose_every = every; }

void TcpProxy::accept_loop() {
  while (!m_stopping) {
    pollfd fds[2] = {{m_listen_fd, POLLIN, 0}, {m_wake_fd, POLLIN, 0}};
    int ready = ::poll(fds, 2, k_poll_ms);
    reap_finished();
    if (ready <= 0 || (fds[0].revents & POLLIN) == 0) {
      continue;
    }
    int fd = ::accept4(m_listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      continue;
    }
    ++m_connections;
    if (m_refusing) {
      close_with_reset(fd);
      continue;
    }
    auto link = std::make_shared<Link>();
    link->client_fd = fd;
    link->wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (link->wake_fd < 0) {
      close_with_reset(fd);
      continue;
    }
    std::lock_guard lock(m_mutex);
    link->thread = std::thread([this, link] { relay(link); });
    m_links.push_back(link);
  }
}

void TcpProxy::relay(const std::shared_ptr<Link>& link) {
  int client = link->client_fd;
  int upstream = connect_to(m_target_port);
  if (upstream < 0) {
    // The target is down: so is the proxy, as far as the client can tell.
    close_with_reset(client);
    link->done = true;
    return;
  }
  set_non_blocking(client);
  set_non_blocking(upstream);
  Direction up{client, upstream, {}};
  Direction down{upstream, client, {}};
  bool open = true;
  while (open && !link->cut && !m_stopping) {
    // A direction reads only once its pending bytes are written: the slower side sets the pace.
    pollfd fds[3] = {
        {client, static_cast<short>(up.pending.empty() ? POLLIN : 0), 0},
        {upstream, static_cast<short>(down.pending.empty() ? POLLIN : 0), 0},
        {link->wake_fd, POLLIN, 0},
    };
    if (!up.pending.empty()) {
      fds[1].events |= POLLOUT;
    }
    if (!down.pending.empty()) {
      fds[0].events |= POLLOUT;
    }
    if (::poll(fds, 3, k_poll_ms) <= 0) {
      continue;
    }
    // POLLHUP comes only once a socket is reset or shut both ways: nothing more gets through.
    const short failed = POLLERR | POLLHUP | POLLNVAL;
    const short readable = POLLIN;
    if ((fds[0].revents & failed) != 0 || (fds[1].revents & failed) != 0) {
      open = false;
    }
    if (open && (fds[0].revents & readable) != 0 && up.pending.empty()) {
      open = up.read_some();
    }
    if (open && (fds[1].revents & readable) != 0 && down.pending.empty()) {
      open = down.read_some();
      // An answer began to come back: the request reached the target. Every so many such
      // answers are lost on their way, with the connection.
      if (open && !down.pending.empty() && m_lose_every > 0 &&
          ++m_answers % m_lose_every.load() == 0) {
        ++m_lost;
        link->cut = true;
        break;
      }
    }
    if (open && !up.pending.empty() && (fds[1].revents & POLLOUT) != 0) {
      open = up.write_some();
    }
    if (open && !down.pending.empty() && (fds[0].revents & POLLOUT) != 0) {
      open = down.write_some();
    }
  }
  // Either side ending ends both: a half-closed stream is of no use to an SSE client.
  if (link->cut || m_stopping) {
    close_with_reset(client);
    close_with_reset(upstream);
  } else {
    ::close(client);
    ::close(upstream);
  }
  if (link->cut) {
    ++m_cuts;
  }
  link->done = true;
}

void TcpProxy::reap_finished() {
  std::vector<std::shared_ptr<Link>> finished;
  {
    std::lock_guard lock(m_mutex);
    for (auto it = m_links.begin(); it != m_links.end();) {
      if ((*it)->done) {
        finished.push_back(*it);
        it = m_links.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& link : finished) {
    link->thread.join();
    ::close(link->wake_fd);
  }
}

}  // namespace livechat::test
