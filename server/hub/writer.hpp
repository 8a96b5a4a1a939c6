#pragma once

// Internals of the hub: one subscriber's state and the writer threads that serve them.

#include <sys/uio.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
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

// One stream, owned by the writer that serves it: only that writer's thread touches it.
struct Subscriber {
  std::uint64_t key = 0;
  std::unique_ptr<Transport> connection;  // null once the stream ended and it closed
  std::shared_ptr<const Framing> framing;
  std::vector<std::string> rooms;  // empty: every room
  std::function<void(EndReason)> on_end;

  bool stalled = false;           // the socket is full; `pending` waits for it to drain
  bool watching_out = false;      // its epoll entry asks for room to write
  std::vector<Piece> pending;     // what the socket did not take of the last write, in order
  std::size_t pending_bytes = 0;  // their total
  std::uint64_t cursor = 0;       // seq of the next event to deliver
  std::uint64_t due_through = 0;  // owed(): frames it wants in [cursor, due_through) ...
  std::uint64_t due_bytes = 0;    // ... come to this many bytes
  std::string skip_through;  // events with ids up to this one are not delivered (once past: "")
  Clock::time_point last_write;

  bool closed() const { return connection == nullptr; }
  bool wants(const std::string& room) const;
};

// Returns the last bytes a stream gets at shutdown: `comment` as an SSE comment, and the end of
// its framing.
std::string last_words(const Framing& framing, std::string_view comment);

// Writes what `connection` takes of `bytes` at once, for a stream about to close.
void write_once(Transport& connection, const std::string& bytes);

// The buffer each iovec of a write points into, where it is shared (null: copy what is left).
using Owner = const std::shared_ptr<const std::string>*;

// Sends bytes without blocking; what the socket does not take is kept in `pending`, sharing
// the buffers in `owners` (one per iovec, or null) instead of copying them. Returns false if
// the connection is broken.
bool send_or_keep(Subscriber& sub, const iovec* iov, const Owner* owners, std::size_t count,
                  std::size_t total);

// A fan-out thread: serves its share of the subscribers from a window onto the event log.
class Writer {
 public:
  explicit Writer(Hub& hub);
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // Hands a new stream to this writer.
  void adopt(std::unique_ptr<Subscriber> sub);

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
  // Handles what epoll saw on a stream's socket: the client hanging up, bytes it sent, room
  // to write.
  void on_socket(std::uint64_t key, std::uint32_t events);
  void on_writable(Subscriber& sub);
  // Watches the socket for a hang-up and, while the stream is stalled, for room to write.
  void watch(Subscriber& sub);
  void close_slow(Subscriber& sub);
  // Ends a stream: at shutdown its last words (if the socket takes them), then its socket out of
  // the epoll set, its connection closed and its owner told why.
  void end(Subscriber& sub, EndReason reason);
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
  std::vector<std::unique_ptr<Subscriber>> m_inbox;
  std::unordered_map<std::uint64_t, std::unique_ptr<Subscriber>> m_subs;
  std::deque<LogEntry> m_window;  // log entries [m_window_tail, m_window_head)
  std::uint64_t m_window_tail = 0;
  std::uint64_t m_window_head = 0;
  std::thread m_thread;
};

}  // namespace livechat::server::hub::detail
