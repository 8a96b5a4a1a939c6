#include "server/hub/hub.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "server/hub/writer.hpp"

namespace livechat::server::hub {
namespace {

// The most a stream's socket is given to send from (the kernel doubles it): enough to keep a
// fast reader's link full, little for a stream that never reads.
constexpr std::size_t k_max_send_buffer = 64 * 1024;

}  // namespace

SocketTransport::~SocketTransport() {
  ::shutdown(m_fd, SHUT_RDWR);
  ::close(m_fd);
}

ssize_t SocketTransport::write(const iovec* iov, std::size_t count, std::size_t) {
  msghdr msg{};
  msg.msg_iov = const_cast<iovec*>(iov);
  msg.msg_iovlen = count;
  ssize_t sent = sendmsg(m_fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
  if (sent < 0) {
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
  }
  return sent;
}

Hub::Hub(HubOptions options) : m_options(std::move(options)), m_log(m_options.log) {
  std::size_t count = std::max<std::size_t>(1, m_options.writers);
  for (std::size_t i = 0; i < count; ++i) {
    m_writers.push_back(std::make_unique<detail::Writer>(*this));
  }
}

Hub::~Hub() {
  shutdown();
  m_writers.clear();
}

std::optional<std::size_t> Hub::publish(const std::vector<wire::Message>& messages) {
  std::lock_guard lock(m_publish_mutex);
  if (m_stopped) {
    return std::nullopt;
  }
  std::size_t added = m_log.append(messages);
  m_published += added;
  m_duplicates += messages.size() - added;
  if (added > 0) {
    for (auto& writer : m_writers) {
      writer->wake();
    }
  }
  return added;
}

void Hub::subscribe(Subscription subscription) {
  const int fd = subscription.connection->fd();
  int protocol = 0;
  socklen_t length = sizeof protocol;
  if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &length) == 0 && protocol == IPPROTO_TCP) {
    // Left alone, the kernel grows a TCP send buffer up to 4 MiB (tcp_wmem): a stream that
    // never reads would park that much in it before its socket is ever full. It doubles what
    // it is given, for its bookkeeping. The rest of what is due to a stream waits as
    // references to the log's frames, not copies, so a small kernel buffer costs a reader
    // nothing and a stream that never reads costs little.
    int send_buffer = static_cast<int>(
        std::clamp<std::size_t>(m_options.max_stream_bytes / 2, 2048, k_max_send_buffer));
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &send_buffer, sizeof send_buffer);
  }
  auto sub = std::make_unique<detail::Subscriber>();
  sub->key = ++m_next_key;
  sub->connection = std::move(subscription.connection);
  sub->framing = std::move(subscription.framing);
  sub->rooms = std::move(subscription.rooms);
  sub->on_end = std::move(subscription.on_end);
  sub->cursor = subscription.from.value_or(m_log.head());
  sub->skip_through = std::move(subscription.skip_through);
  sub->last_write = detail::Clock::now();
  if (!subscription.unwritten.empty()) {
    const std::size_t size = subscription.unwritten.size();
    sub->pending.push_back(
        {std::make_shared<const std::string>(std::move(subscription.unwritten)), 0, size});
    sub->pending_bytes = size;
    sub->stalled = true;  // its writer starts with these, once the socket takes them
  }
  std::string final_comment;
  {
    std::lock_guard lock(m_publish_mutex);  // no writer stops meanwhile
    if (!m_stopped) {
      auto writer =
          std::min_element(m_writers.begin(), m_writers.end(),
                           [](const auto& a, const auto& b) { return a->load() < b->load(); });
      ++m_subscribers;  // its writer's end() counts it down
      try {
        (*writer)->adopt(std::move(sub));
      } catch (...) {
        --m_subscribers;  // never adopted (out of memory)
        throw;
      }
      return;
    }
    final_comment = m_final_comment;
  }
  // Shutdown began: the stream ends as every other did.
  std::string last = sub->pending.empty() ? std::string() : *sub->pending.front().data;
  detail::write_once(*sub->connection, last + detail::last_words(*sub->framing, final_comment));
  sub->connection.reset();
  if (sub->on_end) {
    sub->on_end(EndReason::shutdown);
  }
}

HubStats Hub::stats() const {
  return {m_published.load(), m_duplicates.load(), m_deliveries.load(), m_closed_slow.load(),
          m_subscribers.load()};
}

void Hub::shutdown(std::string final_comment) {
  {
    std::lock_guard lock(m_publish_mutex);
    if (m_stopped) {
      return;
    }
    m_stopped = true;
    m_final_comment = std::move(final_comment);
  }
  for (auto& writer : m_writers) {
    writer->stop();  // ends each of its streams
  }
}

}  // namespace livechat::server::hub
