#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "server/store/commit_queue.hpp"
#include "wire/message.hpp"
#include "wire/result.hpp"

namespace livechat::server::store {

// A history request: messages after or before an id, in one room or all, oldest first.
struct HistoryQuery {
  std::optional<std::string> after;
  std::optional<std::string> before;
  std::optional<std::string> room;
  // Without `after`, the newest `limit` messages (before `before`, if given) are returned.
  std::size_t limit = 100;
};

// Whether a store (a server it lives on) can be reached, and whether it takes writes: a disk
// that is full or read-only, a database locked for over a second, Redis out of memory.
struct StoreHealth {
  bool reachable = true;
  bool writable = true;
  std::string error;  // why it is not reachable or not writable
};

// Where accepted messages are kept, and the outbox of those not yet handed on.
class MessageStore {
 public:
  using Batch = std::vector<wire::Message>;

  virtual ~MessageStore() = default;
  MessageStore(const MessageStore&) = delete;
  MessageStore& operator=(const MessageStore&) = delete;

  // Queues a draft to be stamped with the next id and time and stored; returns a ticket for
  // wait_stored().
  std::uint64_t enqueue(wire::Draft draft) { return m_queue.enqueue(std::move(draft)); }

  // Waits until the draft of `ticket` is stored for good; returns it as stored, or nothing if
  // storing it failed.
  std::optional<wire::Message> wait_stored(std::uint64_t ticket) { return m_queue.wait(ticket); }

  // Sets what receives each batch of newly stored messages, in store order, before their posts
  // are answered; once it returns, the previous one is no longer being called.
  void on_stored(std::function<void(const Batch&)> sink) { m_queue.on_stored(std::move(sink)); }

  // Returns the messages a history query asks for, oldest first, or why it cannot now.
  virtual wire::Result<Batch> query(const HistoryQuery& query) const = 0;

  // Returns how many messages are stored.
  virtual std::size_t size() const = 0;

  // Returns the stored messages not yet confirmed delivered, oldest first.
  virtual Batch undelivered() const = 0;

  // Records that every message up to and including `id` was delivered.
  virtual void mark_delivered(const std::string& id) = 0;

  // Names the kind of store ("sqlite", "redis") for health reports.
  virtual std::string kind() const = 0;

  // Returns whether the store can be reached and written now, and if not, why.
  virtual StoreHealth health() const { return {}; }

 protected:
  // Writes are grouped by a CommitQueue; a store starts it once ready, and stops it first thing
  // in its destructor (its write function uses the store's own members).
  explicit MessageStore(std::size_t max_batch,
                        std::optional<std::chrono::milliseconds> idle = std::nullopt)
      : m_queue(max_batch, idle) {}

  CommitQueue m_queue;
};

}  // namespace livechat::server::store
