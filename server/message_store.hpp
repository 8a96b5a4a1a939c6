#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "wire/message.hpp"

namespace livechat::server {

// A history request: messages after or before an id, in one room or all, oldest first.
struct HistoryQuery {
  std::optional<std::string> after;
  std::optional<std::string> before;
  std::optional<std::string> room;
  // Without `after`, the newest `limit` messages (before `before`, if given) are returned.
  std::size_t limit = 100;
};

// Where accepted messages are kept, and the outbox of those not yet handed on.
class MessageStore {
 public:
  using Batch = std::vector<wire::Message>;

  virtual ~MessageStore() = default;

  // Queues a message whose id sorts after every queued one; returns a ticket for wait_stored().
  virtual std::uint64_t enqueue(wire::Message message) = 0;

  // Waits until the message of `ticket` is stored for good; false if storing it failed.
  virtual bool wait_stored(std::uint64_t ticket) = 0;

  // Sets what receives each batch of newly stored messages, in store order; once it returns,
  // the previous one is no longer being called.
  virtual void on_stored(std::function<void(const Batch&)> sink) = 0;

  // Returns the messages a history query asks for, oldest first.
  virtual Batch query(const HistoryQuery& query) const = 0;

  // Returns the id of the newest stored message, if any.
  virtual std::optional<std::string> newest_id() const = 0;

  // Returns how many messages are stored.
  virtual std::size_t size() const = 0;

  // Returns the stored messages not yet confirmed delivered, oldest first.
  virtual Batch undelivered() const = 0;

  // Records that every message up to and including `id` was delivered.
  virtual void mark_delivered(const std::string& id) = 0;

  // Names the kind of store ("memory", "sqlite") for health reports.
  virtual std::string kind() const = 0;
};

}  // namespace livechat::server
