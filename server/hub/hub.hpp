#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
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

// How a subscriber's bytes reach its socket when the hub cannot write to it directly (TLS).
class Transport {
 public:
  virtual ~Transport() = default;
  // Writes what it can of `total` bytes without blocking; returns how many went out (0: none
  // now, the socket is full), or -1 if the connection is broken.
  virtual ssize_t write(const iovec* iov, std::size_t count, std::size_t total) = 0;
};

// Why a subscription ended.
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

namespace detail {
struct Subscriber;
class Writer;
}  // namespace detail

class Hub;

// One subscriber's stream, held by the thread that owns its connection.
class Subscription {
 public:
  ~Subscription();
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;

  // Parks the calling thread until the stream ends: the client went away, fell too far behind,
  // or the hub shut down. Deliveries do not wake it; the hub's writers write to the socket.
  EndReason wait();

 private:
  friend class Hub;
  Subscription(Hub& hub, std::shared_ptr<detail::Subscriber> subscriber);
  void finish(EndReason reason);

  Hub& m_hub;
  std::shared_ptr<detail::Subscriber> m_subscriber;
  bool m_finished = false;
};

// Publish/subscribe over one ordered log: publishers append, a few writer threads write each
// new event straight into every matching subscriber's socket without blocking, so a delivery
// wakes no thread and a stalled client holds up nobody.
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

  // Subscribes a connected socket to the events of `rooms` (empty: every room) from log seq
  // `from` (a ResumePoint's, for a resume) or, without it, from now on. With `skip_through`
  // (a followed stream, whose ids are ordered), events with ids up to it are left out: what a
  // client saw on another node before this one read it. The socket stays owned by the caller,
  // who must keep it open until the subscription ends. With a transport (TLS), every byte goes
  // through it, and the socket is only watched for the client hanging up; the transport must
  // outlive the subscription.
  std::unique_ptr<Subscription> subscribe(int fd, std::shared_ptr<const Framing> framing,
                                          std::vector<std::string> rooms,
                                          std::optional<std::uint64_t> from = std::nullopt,
                                          std::string skip_through = {},
                                          Transport* transport = nullptr);

  // Returns how many subscriptions are open.
  std::size_t subscribers() const { return m_subscribers.load(); }

  // Returns the counters.
  HubStats stats() const;

  // Ends every stream (each gets `final_comment` if its socket can take it) and stops writers.
  void shutdown(std::string final_comment = "server shutting down");

  // Makes the log follow an ordered stream from after `origin` (EventLog::follow_from).
  void follow_from(std::string origin) { m_log.follow_from(std::move(origin)); }

  const EventLog& log() const { return m_log; }
  const HubOptions& options() const { return m_options; }

 private:
  friend class Subscription;
  friend class detail::Writer;

  HubOptions m_options;
  EventLog m_log;
  int m_stop_fd = -1;
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
