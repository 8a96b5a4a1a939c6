#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/hub/event_log.hpp"
#include "wire/message.hpp"

namespace livechat::server::hub {

// How the bytes of a stream are framed on its transport (an HTTP chunked body, or nothing).
class Framing {
 public:
  virtual ~Framing() = default;
  // Returns what goes before a payload of `bytes` bytes.
  virtual std::string header(std::size_t bytes) const = 0;
  // Returns what goes after each payload.
  virtual std::string_view trailer() const = 0;
  // Returns what ends the stream cleanly.
  virtual std::string_view end() const = 0;
};

// Frames nothing: the stream's bytes go to the socket as they are.
class RawFraming final : public Framing {
 public:
  std::string header(std::size_t) const override { return {}; }
  std::string_view trailer() const override { return {}; }
  std::string_view end() const override { return {}; }
};

// A stream's connection, owned by the hub from subscribe() on: the bytes of the stream go out
// through it without blocking, its socket is watched for the client hanging up, and it closes
// when destroyed (by the writer that served it, once the stream ended).
class Transport {
 public:
  virtual ~Transport() = default;
  // Returns the socket.
  virtual int fd() const = 0;
  // Tells whether bytes the client sends are plain bytes the hub may read and drop (a TCP
  // socket), rather than records only the transport may read (TLS): then only a hang-up is
  // watched.
  virtual bool drains_input() const = 0;
  // Writes what it can of `total` bytes without blocking; returns how many went out (0: none
  // now, the socket is full), or -1 if the connection is broken.
  virtual ssize_t write(const iovec* iov, std::size_t count, std::size_t total) = 0;
};

// A plain socket: written with sendmsg, closed when destroyed.
class SocketTransport final : public Transport {
 public:
  explicit SocketTransport(int fd) : m_fd(fd) {}
  ~SocketTransport() override;
  SocketTransport(const SocketTransport&) = delete;
  SocketTransport& operator=(const SocketTransport&) = delete;

  int fd() const override { return m_fd; }
  bool drains_input() const override { return true; }
  ssize_t write(const iovec* iov, std::size_t count, std::size_t total) override;

 private:
  int m_fd;
};

// Why a stream ended.
enum class EndReason { client_gone, too_slow, shutdown };

// Tuning of the hub; the defaults fit one 2-core machine with 10,000 streams.
struct HubOptions {
  // Two writers keep both cores busy under fan-out without waking a thread per delivery.
  std::size_t writers = 2;
  EventLogLimits log;
  // A subscriber further behind than this is closed; it resumes with Last-Event-ID.
  std::size_t max_lag_events = 10'000;
  // An idle stream gets a ": ping" comment this often, so proxies and clients see it alive.
  std::chrono::milliseconds heartbeat{15'000};
  // An idle writer looks at its streams' heartbeats and deadlines a quarter heartbeat apart,
  // and at least this often.
  std::chrono::milliseconds max_idle_wait{1'000};
  // Bytes written to one subscriber in one system call at most.
  std::size_t max_write_bytes = 256 * 1024;
  // A subscriber whose socket is full while more than this many bytes are due to it (the rest
  // of its last write and the events after its cursor) is closed at once, and its socket's send
  // buffer is capped to about as much: a stream that never reads holds at most this much here,
  // and the kernel as much again. 1 MiB: thousands of typical messages, 16 of the largest;
  // 256 KiB costs the kernel a third as much (docs/BENCHMARKS.md) but leaves readers of large
  // messages less slack.
  std::size_t max_stream_bytes = 1024 * 1024;
};

// Counters of what the hub has done.
struct HubStats {
  std::uint64_t published = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t deliveries = 0;
  std::uint64_t closed_slow = 0;
  std::size_t subscribers = 0;
};

// What a new stream subscribes to, and the connection it is delivered through.
struct Subscription {
  std::unique_ptr<Transport> connection;
  std::shared_ptr<const Framing> framing;
  std::vector<std::string> rooms;  // empty: every room
  // The log seq to start from (a ResumePoint's, for a resume); without it, from now on.
  std::optional<std::uint64_t> from;
  // For a followed stream, whose ids are ordered: events with ids up to this one are left out
  // (what the client saw on another node before this one read it).
  std::string skip_through;
  // Called once, on a writer's thread, when the stream has ended and its connection is closed.
  std::function<void(EndReason)> on_end;
  // Bytes of the stream's start the connection still owes its client (the response's head and
  // preamble), written before anything else.
  std::string unwritten;
};

namespace detail {
struct Subscriber;
class Writer;
}  // namespace detail

// Publish/subscribe over one ordered log: publishers append, a few writer threads write each
// new event straight into every matching subscriber's socket without blocking, so a delivery
// wakes no thread and a stalled client holds up nobody. The writers own the streams' connections:
// they notice a client hanging up, send heartbeats, close streams that fall behind and end every
// stream at shutdown, so no thread waits for a stream.
class Hub {
 public:
  explicit Hub(HubOptions options = {});
  ~Hub();
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  // Appends messages to the log (ignoring ids it already has) and wakes the writers; returns
  // how many were new, or nothing once shutdown() began (the sender must keep them). Never
  // waits on a subscriber.
  std::optional<std::size_t> publish(const std::vector<wire::Message>& messages);

  // Hands a stream's connection to a writer, which delivers the events of its rooms to it until
  // the client goes away, falls too far behind, or the hub shuts down; then the connection is
  // closed and `on_end` is told why. After shutdown() began, the stream ends at once.
  void subscribe(Subscription subscription);

  // Returns how many subscriptions are open.
  std::size_t subscribers() const { return m_subscribers.load(); }

  // Returns the counters.
  HubStats stats() const;

  // Ends every stream (each gets `final_comment` if its socket can take it, then is closed) and
  // stops the writers.
  void shutdown(std::string final_comment = "server shutting down");

  // Makes the log follow an ordered stream from after `origin` (EventLog::follow_from).
  void follow_from(std::string origin) { m_log.follow_from(std::move(origin)); }

  const EventLog& log() const { return m_log; }
  const HubOptions& options() const { return m_options; }

 private:
  friend class detail::Writer;

  HubOptions m_options;
  EventLog m_log;
  std::vector<std::unique_ptr<detail::Writer>> m_writers;
  std::mutex m_publish_mutex;  // a publish and the start of shutdown() do not overlap
  bool m_stopped = false;
  std::string m_final_comment;
  std::atomic<std::uint64_t> m_next_key{0};
  std::atomic<std::size_t> m_subscribers{0};
  std::atomic<std::uint64_t> m_published{0};
  std::atomic<std::uint64_t> m_duplicates{0};
  std::atomic<std::uint64_t> m_deliveries{0};
  std::atomic<std::uint64_t> m_closed_slow{0};
};

}  // namespace livechat::server::hub
