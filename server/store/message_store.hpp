#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <variant>
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

// How long an Idempotency-Key is remembered: a client's retries come well within a day.
inline constexpr std::chrono::hours k_idempotency_window{24};

// Where stored messages are kept, with the cursor of those the notification side confirmed.
// write() has one caller at a time (the outbox's loop); the rest may be called from any thread.
class MessageStore {
 public:
  using Batch = std::vector<wire::Message>;

  // How one draft of a write is answered: with the event it stored (its index in
  // Written::stored), with a message (a change's message in its new state, a repeated post's
  // first answer, a reaction that changed nothing), or with why it was refused (not the
  // author, an unknown or deleted message, an idempotency key reused).
  using Answer = std::variant<std::size_t, wire::Message, wire::ApiError>;

  // What one write() did.
  struct Written {
    Batch stored;                 // what joined the log, in order: forwarded on
    std::vector<Answer> answers;  // one per draft
  };

  MessageStore() = default;
  virtual ~MessageStore() = default;
  MessageStore(const MessageStore&) = delete;
  MessageStore& operator=(const MessageStore&) = delete;

  // Stamps drafts with the next ids and times and stores them as one batch, in order: posts,
  // and the edits, deletes and reactions of stored messages; returns what it stored and how
  // each draft is answered, or nothing if none could be stored. Called with no drafts, it does
  // the store's own upkeep (the forwarded cursor, a health probe, expired idempotency keys).
  virtual std::optional<Written> write(std::vector<wire::Draft>& drafts) = 0;

  // Returns the most drafts one write() should take.
  virtual std::size_t max_batch() const = 0;

  // Returns how often an idle store wants write() called with no drafts.
  virtual std::chrono::milliseconds idle_interval() const = 0;

  // Returns the messages a history query asks for, oldest first, in their current state
  // (edited content, reactions; deleted ones left out), or why it cannot now.
  virtual wire::Result<Batch> query(const HistoryQuery& query) const = 0;

  // Returns how many messages are stored.
  virtual std::size_t size() const = 0;

  // Returns the newest `limit` events of the log (messages, and every change), before the id
  // `before` if it is not empty, oldest first: what a starting notification node fills its log
  // with.
  virtual wire::Result<Batch> recent(std::size_t limit, const std::string& before) const = 0;

  // Returns the stored events the notification side has not confirmed, oldest first.
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
