#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>

#include "server/redis/connection.hpp"
#include "server/store/message_store.hpp"

namespace livechat::server::store {

struct RedisStoreOptions {
  // The stream is capped near this many entries, messages and changes (XADD MAXLEN ~): about
  // 200 MB of Redis memory for chat-sized messages, and days of history for a busy deployment.
  // The state of a changed message is dropped soon after the stream is trimmed past it.
  std::size_t max_length = 1'000'000;
  // Bounds connecting to Redis and each command.
  std::chrono::milliseconds timeout{2000};
  // How often an idle store checks that Redis is there (for /health, and to reconnect early).
  std::chrono::milliseconds check_interval{1000};
};

// Keeps messages and their changes in the deployment's Redis Stream, which every notification
// node reads: an append stamps each event with the next id from Redis's clock, in one order for
// every message node, and is answered once Redis has it. Concurrent drafts share one round
// trip; a change is checked against its message (and a keyed post against its key) by the
// same script that appends it, so every message node sees one outcome.
class RedisStore final : public MessageStore {
 public:
  // Does not wait for Redis: while it is unreachable, posts fail (503) and health says why.
  RedisStore(wire::RedisAddress address, RedisStoreOptions options = {});
  ~RedisStore() override;
  RedisStore(const RedisStore&) = delete;
  RedisStore& operator=(const RedisStore&) = delete;

  // Checks and appends the batch (posts, edits, deletes, reactions) in one round trip; with no
  // drafts, checks that Redis is there (a probe write while it takes none).
  std::optional<Written> write(std::vector<wire::Draft>& drafts) override;
  std::size_t max_batch() const override;
  // Returns check_interval.
  std::chrono::milliseconds idle_interval() const override { return m_options.check_interval; }
  wire::Result<Batch> query(const HistoryQuery& query) const override;
  // The stream's newest entries, messages and changes.
  wire::Result<Batch> recent(std::size_t limit, const std::string& before) const override;
  // Returns the stream's length: messages and changes (the entries that count for max_length).
  std::size_t size() const override;
  // The stream is the outbox: notification nodes read it themselves.
  Batch unforwarded() const override { return {}; }
  void mark_forwarded(const std::string&) override {}
  std::string kind() const override { return "redis"; }
  // Not writable from an append Redis rejects (out of memory, read-only replica) until a write
  // succeeds; while idle and not writable, a probe write is tried every check_interval.
  StoreHealth health() const override;

 private:
  // Returns the candidates (messages of a history answer) in their current state, leaving out
  // the deleted, up to `want` of them; m_reader_mutex held.
  wire::Result<Batch> current(Batch candidates, std::size_t want) const;
  // Records the outcome of a command for health(); `write`: it was a write.
  void note(const wire::Result<redis::Value>& outcome, bool write = false) const;

  RedisStoreOptions m_options;
  redis::Connection m_writer;  // write() only
  mutable std::mutex m_reader_mutex;
  mutable redis::Connection m_reader;
  mutable std::mutex m_health_mutex;
  mutable StoreHealth m_health;
};

}  // namespace livechat::server::store
