#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "server/redis/connection.hpp"
#include "wire/backoff.hpp"
#include "wire/message.hpp"

namespace livechat::server::hub {
class Hub;
}

namespace livechat::server::redis {

// What a notification node knows of the stream it follows.
struct StreamHealth {
  bool reachable = false;
  bool following = false;  // the node knows where it joined the stream
  std::string last_id;     // the newest message read
  std::string error;       // why it is unreachable
};

// A stretch of a followed stream read back for a resume from before the node's log.
struct Replay {
  enum class Outcome { ok, expired, unavailable } outcome = Outcome::ok;
  std::vector<wire::Message> messages;
  std::string error;
};

// The ordered stream a notification node follows, as the notification service sees it.
class FollowedStream {
 public:
  virtual ~FollowedStream() = default;
  // Returns the messages after `after` up to and including `upto`, oldest first, at most `max`
  // of them; `expired` when the stream no longer holds all of them.
  virtual Replay replay(const std::string& after, const std::string& upto, std::size_t max) = 0;
  virtual StreamHealth health() const = 0;
};

struct RedisFeedOptions {
  // How long one XREAD waits for new entries (and so how often a quiet feed looks up).
  std::chrono::milliseconds block{2000};
  // Entries read at most per XREAD.
  std::size_t batch = 1000;
  // Bounds connecting and each command beyond the block time.
  std::chrono::milliseconds timeout{2000};
  // Between attempts while Redis is unreachable, doubling, no jitter.
  wire::BackoffPolicy backoff{std::chrono::milliseconds(100), std::chrono::milliseconds(2000)};
};

// Follows the deployment's Redis Stream from where it stood when the node started (XREAD
// BLOCK, no consumer group: every node reads every message) and publishes each entry into the
// node's hub, in stream order; after a lost connection it reads on from the last id it saw.
class RedisFeed final : public FollowedStream {
 public:
  RedisFeed(const wire::RedisAddress& address, hub::Hub& hub, RedisFeedOptions options = {});
  ~RedisFeed() override;
  RedisFeed(const RedisFeed&) = delete;
  RedisFeed& operator=(const RedisFeed&) = delete;

  Replay replay(const std::string& after, const std::string& upto, std::size_t max) override;
  StreamHealth health() const override;

  // Stops reading (also done when destroyed).
  void stop();

 private:
  void run(bool joined);
  // Finds where the stream stands and makes the hub's log follow it from there.
  wire::Result<bool> join_stream();
  // Reads what was appended since the last entry into the hub; false once the hub shut down.
  wire::Result<bool> read_more();

  hub::Hub& m_hub;
  RedisFeedOptions m_options;
  redis::Connection m_reader;  // the feed thread's
  std::mutex m_replay_mutex;
  redis::Connection m_replayer;
  std::string m_last_entry;  // the feed thread's: the entry id to read after
  mutable std::mutex m_mutex;
  std::condition_variable m_wake;
  StreamHealth m_health;
  bool m_stopping = false;
  std::thread m_thread;
};

}  // namespace livechat::server::redis
