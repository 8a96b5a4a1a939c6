#include "server/hub/hub.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>

#include "server/hub/writer.hpp"
#include "wire/sse.hpp"

namespace livechat::server::hub {
namespace {

// The most a stream's socket is given to send from (the kernel doubles it): enough to keep a
// fast reader's link full, little for a stream that never reads.
constexpr std::size_t k_max_send_buffer = 64 * 1024;

}  // namespace

Hub::Hub(HubOptions options) : m_options(std::move(options)), m_log(m_options.log) {
  m_stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  std::size_t count = std::max<std::size_t>(1, m_options.writers);
  for (std::size_t i = 0; i < count; ++i) {
    m_writers.push_back(std::make_unique<detail::Writer>(*this));
  }
}

Hub::~Hub() {
  shutdown();
  m_writers.clear();
  close(m_stop_fd);
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

std::unique_ptr<Subscription> Hub::subscribe(int fd, std::shared_ptr<const Framing> framing,
                                             std::vector<std::string> rooms,
                                             std::optional<std::uint64_t> from,
                                             std::string skip_through, Transport* transport) {
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
  auto sub = std::make_shared<detail::Subscriber>();
  sub->key = ++m_next_key;
  sub->fd = fd;
  sub->framing = std::move(framing);
  sub->rooms = std::move(rooms);
  sub->cursor = from.value_or(m_log.head());
  sub->skip_through = std::move(skip_through);
  sub->transport = transport;
  sub->last_write = detail::Clock::now();
  ++m_subscribers;
  auto writer =
      std::min_element(m_writers.begin(), m_writers.end(),
                       [](const auto& a, const auto& b) { return a->load() < b->load(); });
  (*writer)->adopt(sub);
  return std::unique_ptr<Subscription>(new Subscription(*this, std::move(sub)));
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
    writer->stop();
  }
  // The stop event stays readable: every parked connection thread wakes and ends its stream.
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = write(m_stop_fd, &one, sizeof one);
}

Subscription::Subscription(Hub& hub, std::shared_ptr<detail::Subscriber> subscriber)
    : m_hub(hub), m_subscriber(std::move(subscriber)) {}

Subscription::~Subscription() { finish(EndReason::client_gone); }

EndReason Subscription::wait() {
  auto& sub = *m_subscriber;
  // Over a transport (TLS) the client's bytes belong to it: only a hang-up is watched.
  const short watched = sub.transport != nullptr ? POLLRDHUP : (POLLIN | POLLRDHUP);
  pollfd fds[2] = {{sub.fd, watched, 0}, {m_hub.m_stop_fd, POLLIN, 0}};
  EndReason reason = EndReason::client_gone;
  for (;;) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) {
        continue;
      }
      break;
    }
    if (fds[1].revents != 0) {
      reason = EndReason::shutdown;
      break;
    }
    if (fds[0].revents & (POLLHUP | POLLERR | POLLRDHUP | POLLNVAL)) {
      break;
    }
    if (fds[0].revents & POLLIN) {
      // An SSE client has nothing to say; read and drop whatever it sends, notice EOF.
      char scratch[512];
      ssize_t n = recv(sub.fd, scratch, sizeof scratch, MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        break;
      }
    }
  }
  if (sub.too_slow.load()) {
    reason = EndReason::too_slow;
  }
  finish(reason);
  return reason;
}

void Subscription::finish(EndReason reason) {
  if (m_finished) {
    return;
  }
  m_finished = true;
  auto& sub = *m_subscriber;
  std::string final_comment;
  if (reason == EndReason::shutdown) {
    // Written by shutdown() under this mutex; the stop event that woke this thread is no
    // synchronisation a race detector can see.
    std::lock_guard lock(m_hub.m_publish_mutex);
    final_comment = m_hub.m_final_comment;
  }
  {
    std::lock_guard lock(sub.mutex);
    if (!sub.closed && reason == EndReason::shutdown && !sub.stalled) {
      std::string comment = wire::sse::encode_comment(final_comment);
      std::string header = sub.framing->header(comment.size());
      auto trailer = sub.framing->trailer();
      auto end = sub.framing->end();
      iovec iov[4] = {{header.data(), header.size()},
                      {comment.data(), comment.size()},
                      {const_cast<char*>(trailer.data()), trailer.size()},
                      {const_cast<char*>(end.data()), end.size()}};
      detail::send_or_keep(sub, iov, nullptr, 4,
                           header.size() + comment.size() + trailer.size() + end.size());
    }
    detail::release(sub);  // before the owner closes the socket and its number is reused
  }
  --m_hub.m_subscribers;
}

}  // namespace livechat::server::hub
