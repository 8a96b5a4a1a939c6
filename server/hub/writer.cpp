#include "server/hub/writer.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>

#include "wire/message.hpp"
#include "wire/sse.hpp"

namespace livechat::server::hub::detail {
namespace {

constexpr std::size_t k_max_iov = 512;
const std::string k_ping = wire::sse::encode_comment("ping");

// Returns what a stream's socket is watched for: the client hanging up, the bytes it sends where
// they are the hub's to drop, and room to write while the stream is stalled.
std::uint32_t watched_events(const Subscriber& sub) {
  std::uint32_t events = EPOLLRDHUP;
  if (sub.connection->drains_input()) {
    events |= EPOLLIN;
  }
  if (sub.stalled) {
    events |= EPOLLOUT;
  }
  return events;
}

}  // namespace

std::string last_words(const Framing& framing, std::string_view comment) {
  std::string text = wire::sse::encode_comment(comment);
  return framing.header(text.size()) + text + std::string(framing.trailer()) +
         std::string(framing.end());
}

void write_once(Transport& connection, const std::string& bytes) {
  iovec iov{const_cast<char*>(bytes.data()), bytes.size()};
  connection.write(&iov, 1, bytes.size());
}

bool Subscriber::wants(const std::string& room) const { return wire::in_rooms(rooms, room); }

bool send_or_keep(Subscriber& sub, const iovec* iov, const Owner* owners, std::size_t count,
                  std::size_t total) {
  const ssize_t sent = sub.connection->write(iov, count, total);
  if (sent < 0) {
    return false;
  }
  if (static_cast<std::size_t>(sent) == total) {
    sub.last_write = Clock::now();
    return true;
  }
  // Keep the rest: the stream must continue exactly where the socket stopped taking bytes.
  // Frames stay shared with the log, so a stalled stream holds references, not copies.
  std::size_t skip = static_cast<std::size_t>(sent);
  sub.pending.clear();
  sub.pending_bytes = total - skip;
  for (std::size_t i = 0; i < count; ++i) {
    const char* base = static_cast<const char*>(iov[i].iov_base);
    if (skip >= iov[i].iov_len) {
      skip -= iov[i].iov_len;
      continue;
    }
    const std::size_t length = iov[i].iov_len - skip;
    Owner owner = owners != nullptr ? owners[i] : nullptr;
    if (owner != nullptr && *owner) {
      const auto offset = static_cast<std::size_t>(base - (*owner)->data()) + skip;
      sub.pending.push_back({*owner, offset, length});
    } else {
      sub.pending.push_back({std::make_shared<const std::string>(base + skip, length), 0, length});
    }
    skip = 0;
  }
  sub.stalled = true;
  if (sent > 0) {
    sub.last_write = Clock::now();
  }
  return true;
}

Writer::Writer(Hub& hub) : m_hub(hub) {
  m_epoll = epoll_create1(EPOLL_CLOEXEC);
  m_event = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = 0;
  epoll_ctl(m_epoll, EPOLL_CTL_ADD, m_event, &ev);
  m_window_tail = m_window_head = m_hub.m_log.head();
  m_thread = std::thread([this] { run(); });
}

Writer::~Writer() {
  stop();
  close(m_epoll);
  close(m_event);
}

void Writer::adopt(std::unique_ptr<Subscriber> sub) {
  ++m_load;
  {
    std::lock_guard lock(m_inbox_mutex);
    m_inbox.push_back(std::move(sub));
  }
  wake();
}

void Writer::wake() {
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = write(m_event, &one, sizeof one);
}

void Writer::stop() {
  if (!m_stop.exchange(true)) {
    wake();
  }
  if (m_thread.joinable()) {
    m_thread.join();
  }
}

void Writer::run() {
  const auto heartbeat = m_hub.m_options.heartbeat;
  const long max_idle_ms =
      std::max<long>(5L, static_cast<long>(m_hub.m_options.max_idle_wait.count()));
  const int tick_ms =
      static_cast<int>(std::clamp<long>(static_cast<long>(heartbeat.count() / 4), 5L, max_idle_ms));
  epoll_event events[64];
  bool behind = false;  // someone got a capped write and has more waiting
  for (;;) {
    int n = epoll_wait(m_epoll, events, 64, behind ? 0 : tick_ms);
    for (int i = 0; i < n; ++i) {
      std::uint64_t key = events[i].data.u64;
      if (key == 0) {
        std::uint64_t count = 0;
        [[maybe_unused]] auto r = read(m_event, &count, sizeof count);
      } else {
        on_socket(key, events[i].events);
      }
    }
    if (m_stop.load()) {
      // One last pass, so that what was published before shutdown began goes out too; then
      // every stream ends.
      take_inbox();
      refresh_window();
      for (auto& [key, sub] : m_subs) {
        serve(*sub, Clock::now());
        end(*sub, EndReason::shutdown);
      }
      m_subs.clear();
      m_load = 0;
      break;
    }
    take_inbox();
    refresh_window();
    auto now = Clock::now();
    behind = false;
    for (auto& [key, sub] : m_subs) {
      behind = serve(*sub, now) || behind;
    }
    prune_and_trim();
  }
}

void Writer::take_inbox() {
  std::vector<std::unique_ptr<Subscriber>> fresh;
  {
    std::lock_guard lock(m_inbox_mutex);
    fresh.swap(m_inbox);
  }
  for (auto& sub : fresh) {
    if (sub->cursor < m_window_tail) {
      // Widen the window back to where this subscriber starts.
      auto older = m_hub.m_log.range(sub->cursor, m_window_tail);
      for (auto it = older.rbegin(); it != older.rend(); ++it) {
        if (it->seq + 1 != m_window_tail) {
          break;
        }
        m_window.push_front(*it);
        m_window_tail = it->seq;
      }
    }
    Subscriber& added = *sub;
    m_subs.emplace(sub->key, std::move(sub));
    epoll_event ev{};
    ev.events = watched_events(added);
    ev.data.u64 = added.key;
    if (epoll_ctl(m_epoll, EPOLL_CTL_ADD, added.connection->fd(), &ev) != 0) {
      end(added, EndReason::client_gone);  // not a socket epoll can watch: nothing to serve
    } else {
      added.watching_out = added.stalled;  // what the HTTP server had not yet written of it
    }
  }
}

void Writer::refresh_window() {
  m_log_tail = m_hub.m_log.tail();
  auto fresh = m_hub.m_log.range(m_window_head, UINT64_MAX);
  if (fresh.empty()) {
    return;
  }
  if (fresh.front().seq != m_window_head) {
    // The log moved on past events this writer never saw; whoever needed them is too slow.
    m_window.clear();
    m_window_tail = fresh.front().seq;
  }
  m_window_head = fresh.back().seq + 1;
  for (auto& entry : fresh) {
    m_window.push_back(std::move(entry));
  }
}

bool Writer::serve(Subscriber& sub, Clock::time_point now) {
  if (sub.closed()) {
    return false;
  }
  // Too far behind (also while its socket is full), behind what the log still holds (its
  // frames would stay pinned here), or unable to take a byte for two heartbeats: close it;
  // it resumes with Last-Event-ID.
  // A full socket with more bytes due than HubOptions::max_stream_bytes is closed at once, so a
  // stream that never reads costs at most that much.
  const std::uint64_t lag = sub.cursor < m_window_head ? m_window_head - sub.cursor : 0;
  if (sub.cursor < m_window_tail || sub.cursor < m_log_tail ||
      lag > m_hub.m_options.max_lag_events ||
      (sub.stalled && (now - sub.last_write > 2 * m_hub.m_options.heartbeat ||
                       owed(sub) > m_hub.m_options.max_stream_bytes))) {
    close_slow(sub);
    return false;
  }
  if (sub.stalled) {
    return false;  // its writable event brings it back
  }
  if (sub.cursor < m_window_head) {
    deliver(sub);
    if (sub.stalled && !sub.closed() && owed(sub) > m_hub.m_options.max_stream_bytes) {
      close_slow(sub);
      return false;
    }
    return !sub.stalled && !sub.closed() && sub.cursor < m_window_head;
  }
  if (now - sub.last_write >= m_hub.m_options.heartbeat) {
    std::string header = sub.framing->header(k_ping.size());
    auto trailer = sub.framing->trailer();
    iovec iov[3] = {{header.data(), header.size()},
                    {const_cast<char*>(k_ping.data()), k_ping.size()},
                    {const_cast<char*>(trailer.data()), trailer.size()}};
    if (!send_or_keep(sub, iov, nullptr, 3, header.size() + k_ping.size() + trailer.size())) {
      end(sub, EndReason::client_gone);
    } else if (sub.stalled) {
      watch(sub);
    }
  }
  return false;
}

void Writer::deliver(Subscriber& sub) {
  // One system call per subscriber per wake: every pending frame it wants, as one chunk.
  iovec iov[k_max_iov + 2];
  Owner owners[k_max_iov + 2];
  std::size_t count = 1;
  std::size_t payload = 0;
  std::size_t frames = 0;
  std::uint64_t seq = sub.cursor;
  // What one write leaves behind stays within the stream's bound.
  const std::size_t limit =
      std::min(m_hub.m_options.max_write_bytes, m_hub.m_options.max_stream_bytes);
  for (; seq < m_window_head && count <= k_max_iov && payload < limit; ++seq) {
    const LogEntry& entry = m_window[seq - m_window_tail];
    if (!sub.skip_through.empty()) {
      if (entry.id <= sub.skip_through) {
        continue;
      }
      sub.skip_through.clear();
    }
    if (!sub.wants(entry.room)) {
      continue;
    }
    owners[count] = &entry.frame;
    iov[count++] = {const_cast<char*>(entry.frame->data()), entry.frame->size()};
    payload += entry.frame->size();
    ++frames;
  }
  sub.cursor = seq;
  sub.due_through = seq;
  sub.due_bytes = 0;
  if (frames == 0) {
    return;
  }
  std::string header = sub.framing->header(payload);
  auto trailer = sub.framing->trailer();
  iov[0] = {header.data(), header.size()};
  owners[0] = nullptr;
  owners[count] = nullptr;
  iov[count++] = {const_cast<char*>(trailer.data()), trailer.size()};
  if (!send_or_keep(sub, iov, owners, count, header.size() + payload + trailer.size())) {
    end(sub, EndReason::client_gone);
    return;
  }
  m_hub.m_deliveries += frames;
  if (sub.stalled) {
    watch(sub);
  }
}

void Writer::on_socket(std::uint64_t key, std::uint32_t events) {
  auto it = m_subs.find(key);
  if (it == m_subs.end() || it->second->closed()) {
    return;
  }
  Subscriber& sub = *it->second;
  if ((events & (EPOLLHUP | EPOLLERR | EPOLLRDHUP)) != 0) {
    end(sub, EndReason::client_gone);
    return;
  }
  if ((events & EPOLLIN) != 0) {
    // An SSE client has nothing to say: what it sends is read and dropped, its EOF noticed.
    char scratch[512];
    for (int reads = 0; reads < 8; ++reads) {
      ssize_t n = recv(sub.connection->fd(), scratch, sizeof scratch, MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        end(sub, EndReason::client_gone);
        return;
      }
      if (n < static_cast<ssize_t>(sizeof scratch)) {
        break;
      }
    }
  }
  if ((events & EPOLLOUT) != 0 && sub.stalled) {
    on_writable(sub);
  }
}

void Writer::on_writable(Subscriber& sub) {
  std::vector<Piece> pending = std::move(sub.pending);
  sub.pending.clear();
  sub.pending_bytes = 0;
  sub.stalled = false;
  thread_local std::vector<iovec> iov;
  thread_local std::vector<Owner> owners;
  iov.clear();
  owners.clear();
  std::size_t total = 0;
  for (const auto& piece : pending) {
    iov.push_back({const_cast<char*>(piece.data->data() + piece.offset), piece.length});
    owners.push_back(&piece.data);
    total += piece.length;
  }
  if (!send_or_keep(sub, iov.data(), owners.data(), iov.size(), total)) {
    end(sub, EndReason::client_gone);
    return;
  }
  watch(sub);
}

void Writer::watch(Subscriber& sub) {
  if (sub.closed() || sub.watching_out == sub.stalled) {
    return;
  }
  epoll_event ev{};
  ev.events = watched_events(sub);
  ev.data.u64 = sub.key;
  if (epoll_ctl(m_epoll, EPOLL_CTL_MOD, sub.connection->fd(), &ev) == 0) {
    sub.watching_out = sub.stalled;
  }
}

void Writer::close_slow(Subscriber& sub) {
  ++m_hub.m_closed_slow;
  end(sub, EndReason::too_slow);
}

void Writer::end(Subscriber& sub, EndReason reason) {
  if (sub.closed()) {
    return;
  }
  if (reason == EndReason::shutdown && !sub.stalled) {
    std::string final_comment;
    {
      std::lock_guard lock(m_hub.m_publish_mutex);  // written by shutdown() under it
      final_comment = m_hub.m_final_comment;
    }
    write_once(*sub.connection, last_words(*sub.framing, final_comment));
  }
  // Out of the epoll set while the socket is open: once closed, its number may be reused.
  epoll_ctl(m_epoll, EPOLL_CTL_DEL, sub.connection->fd(), nullptr);
  sub.connection.reset();
  sub.pending.clear();
  sub.pending_bytes = 0;
  --m_hub.m_subscribers;
  auto on_end = std::move(sub.on_end);
  sub.on_end = nullptr;
  if (on_end) {
    on_end(reason);
  }
}

std::uint64_t Writer::owed(Subscriber& sub) const {
  // Counted on from where the last count stopped: the cursor of a stalled stream stands still.
  if (sub.due_through < sub.cursor) {
    sub.due_through = sub.cursor;
    sub.due_bytes = 0;
  }
  const std::uint64_t bound = m_hub.m_options.max_stream_bytes;
  for (; sub.due_through < m_window_head && sub.pending_bytes + sub.due_bytes <= bound;
       ++sub.due_through) {
    const LogEntry& entry = m_window[sub.due_through - m_window_tail];
    if (sub.wants(entry.room)) {
      sub.due_bytes += entry.frame->size();
    }
  }
  return sub.pending_bytes + sub.due_bytes;
}

void Writer::prune_and_trim() {
  std::uint64_t lowest = m_window_head;
  for (auto it = m_subs.begin(); it != m_subs.end();) {
    Subscriber& sub = *it->second;
    if (sub.closed()) {
      it = m_subs.erase(it);
      --m_load;
      continue;
    }
    lowest = std::min(lowest, sub.cursor);
    ++it;
  }
  while (!m_window.empty() && m_window.front().seq < lowest) {
    m_window.pop_front();
    ++m_window_tail;
  }
  if (m_window.empty()) {
    m_window_tail = m_window_head;
  }
}

}  // namespace livechat::server::hub::detail
