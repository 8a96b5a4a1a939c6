#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

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

// Where stored messages are kept, with the cursor of those the notification side confirmed.
// write() has one caller at a time (the outbox's loop); the rest may be called from any thread.
class MessageStore {
 public:
  using Batch = std::vector<wire::Message>;

  MessageStore() = default;
  virtual ~MessageStore() = default;
  MessageStore(const MessageStore&) = delete;
  MessageStore& operator=(const MessageStore&) = delete;

  // Stamps drafts with the next ids and times and stores them as one batch, in order; returns
  // them as stored, or nothing if they could not be stored. Called with no drafts, it does the
  // store's own upkeep (the forwarded cursor, a health probe) and returns an empty batch.
  virtual std::optional<Batch> write(std::vector<wire::Draft>& drafts) = 0;

  // Returns the most drafts one write() should take.
  virtual std::size_t max_batch() const = 0;

  // Returns how often an idle store wants write() called with no drafts.
  virtual std::chrono::milliseconds idle_interval() const = 0;

  // Returns the messages a history query asks for, oldest first, or why it cannot now.
  virtual wire::Result<Batch> query(const HistoryQuery& query) const = 0;

  // Returns how many messages are stored.
  virtual std::size_t size() const = 0;

  // Returns the stored messages the notification side has not confirmed, oldest first.
  virtual Batch unforwarded() const = 0;

  // Records that every message up to and including `id` was forwarded and confirmed; it is
  // kept for good by the next write().
  virtual void mark_forwarded(const std::string& id) = 0;

  // Names the kind of store ("sqlite", "redis") for health reports.
  virtual std::string kind() const = 0;

  // Returns whether the store can be reached and written now, and if not, why.
  virtual StoreHealth health() const = 0;
};

}  // namespace livechat::server::store
