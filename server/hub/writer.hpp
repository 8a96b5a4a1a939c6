#pragma once

// Internals of the hub: one subscriber's state and the writer threads that serve them.

#include <sys/uio.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "server/hub/hub.hpp"

namespace livechat::server::hub::detail {

using Clock = std::chrono::steady_clock;

// A run of bytes a socket has not taken yet, in a buffer it shares (with the log, for a frame).
struct Piece {
  std::shared_ptr<const std::string> data;
  std::size_t offset = 0;
  std::size_t length = 0;
};

// One subscriber. The mutex guards every use of the socket against the owner closing it.
struct Subscriber {
  std::uint64_t key = 0;
  int fd = -1;
  std::shared_ptr<const Framing> framing;
  Transport* transport = nullptr;  // null: a plain socket, written with sendmsg
  std::vector<std::string> rooms;  // empty: every room

  std::mutex mutex;
  bool closed = false;      // no write may touch fd any more
  bool stalled = false;     // the socket is full; `pending` waits for it to drain
  bool registered = false;  // fd is in its writer's epoll set (`epoll`)
  int epoll = -1;
  std::vector<Piece> pending;     // what the socket did not take of the last write, in order
  std::size_t pending_bytes = 0;  // their total
  std::uint64_t cursor = 0;       // seq of the next event to deliver
  std::uint64_t due_through = 0;  // owed(): frames it wants in [cursor, due_through) ...
  std::uint64_t due_bytes = 0;    // ... come to this many bytes
  std::string skip_through;  // events with ids up to this one are not delivered (once past: "")
  Clock::time_point last_write;
  std::atomic<bool> too_slow{false};

  bool wants(const std::string& room) const;
};

// Marks a subscriber closed and takes its socket out of its writer's epoll set while the socket
// is still open (its number may be reused once the owner closes it). Call with the mutex held.
void release(Subscriber& sub);

// Closes a subscriber from the hub's side: released, and its socket shut down so that the
// owning thread wakes and ends the stream. Call with the mutex held.
void hang_up(Subscriber& sub);

// The buffer each iovec of a write points into, where it is shared (null: copy what is left).
using Owner = const std::shared_ptr<const std::string>*;

// Sends bytes without blocking; what the socket does not take is kept in `pending`, sharing
// the buffers in `owners` (one per iovec, or null) instead of copying them. Returns false if
// the connection is broken. Call with the subscriber's mutex held.
bool send_or_keep(Subscriber& sub, const iovec* iov, const Owner* owners, std::size_t count,
                  std::size_t total);

// A fan-out thread: serves its share of the subscribers from a window onto the event log.
class Writer {
 public:
  explicit Writer(Hub& hub);
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // Hands a new subscriber to this writer.
  void adopt(std::shared_ptr<Subscriber> sub);

  // Tells the writer the log has grown.
  void wake();

  // Stops the thread and waits for it.
  void stop();

  // Returns how many subscribers it serves (for balancing).
  std::size_t load() const { return m_load.load(); }

 private:
  void run();
  void take_inbox();
  void refresh_window();
  // Delivers or pings; returns true if it still has events waiting after a capped write.
  bool serve(Subscriber& sub, Clock::time_point now);
  void deliver(Subscriber& sub);
  void on_writable(std::uint64_t key);
  void arm(Subscriber& sub);
  void close_slow(Subscriber& sub);
  // Returns the bytes due to a subscriber that its socket has not taken: the rest of its last
  // write and the frames it wants after its cursor, counted up to just past the bound.
  std::uint64_t owed(Subscriber& sub) const;
  std::uint64_t m_log_tail = 0;  // oldest seq the log still holds, as of the last refresh
  void prune_and_trim();

  Hub& m_hub;
  int m_epoll = -1;
  int m_event = -1;
  std::atomic<bool> m_stop{false};
  std::atomic<std::size_t> m_load{0};
  std::mutex m_inbox_mutex;
  std::vector<std::shared_ptr<Subscriber>> m_inbox;
  std::unordered_map<std::uint64_t, std::shared_ptr<Subscriber>> m_subs;
  std::deque<LogEntry> m_window;  // log entries [m_window_tail, m_window_head)
  std::uint64_t m_window_tail = 0;
  std::uint64_t m_window_head = 0;
  std::thread m_thread;
};

}  // namespace livechat::server::hub::detail
