#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_set>

#include "client/event_stream.hpp"
#include "wire/backoff.hpp"
#include "wire/message.hpp"

namespace livechat::client {

// How a subscriber connects and reconnects.
struct SubscriberOptions {
  StreamRequest request;  // rooms, where to start (last_event_id), idle timeout
  wire::BackoffPolicy backoff;
  std::optional<unsigned> max_retries;  // none: reconnect forever
  // A stream that lasted this long, or handed on a message, was healthy: backoff starts over.
  std::chrono::milliseconds healthy_after{5000};
};

// What a subscriber tells its user about the connection (for a status line).
struct SubscriberStatus {
  enum class Kind { connecting, connected, reconnecting } kind;
  std::chrono::milliseconds delay{0};  // before the next attempt, when reconnecting
  std::string reason;                  // why it reconnects
  std::string code;                    // when unreachable: the transport error's code
};

// Follows a notification service's stream for good: reconnects with backoff, resumes with
// Last-Event-ID of the last message it handed on, and lets each message through once (it
// de-duplicates by the ids of the last 10,000 it handed on).
class Subscriber {
 public:
  struct Handlers {
    // Takes one message and the JSON it came as; returns false to stop.
    std::function<bool(const wire::Message&, const std::string& json)> on_message;
    // Called on `event: reset`: the service lost track after `last_id`; fill the gap (e.g.
    // from history) through deduplicate().
    std::function<void(const std::string& last_id, const std::string& reason)> on_reset;
    std::function<void(const SubscriberStatus&)> on_status;
  };

  Subscriber(wire::Endpoint endpoint, SubscriberOptions options);

  // Runs until stop(), a handler stops it, a request the service will never take, or
  // max_retries failed attempts in a row; returns how the last connection ended.
  StreamEnd run(const Handlers& handlers);

  // Stops run() from another thread (or a signal-waiting one).
  void stop();

  // Passes a message through the exactly-once filter (also one obtained elsewhere, such as
  // from history, whose JSON is then made from it); returns whether it was new.
  bool deduplicate(const wire::Message& message, const std::string* json = nullptr);

  // Returns the id of the last message handed on (sent as Last-Event-ID on reconnect).
  const std::string& last_id() const { return m_last_id; }

 private:
  bool is_new(const std::string& id) const;
  void remember(const std::string& id);

  wire::Endpoint m_endpoint;
  SubscriberOptions m_options;
  EventStream m_stream;
  const Handlers* m_handlers = nullptr;
  bool m_keep_going = true;
  std::string m_last_id;
  std::deque<std::string> m_recent_order;
  std::unordered_set<std::string> m_recent;
  std::mutex m_mutex;
  std::condition_variable m_wake;
  bool m_stopped = false;
};

}  // namespace livechat::client
