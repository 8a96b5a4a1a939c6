#pragma once

#include <cstddef>
#include <deque>
#include <mutex>
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

// Where accepted messages are kept.
class MessageStore {
 public:
  virtual ~MessageStore() = default;
  // Stores a message whose id sorts after every stored one.
  virtual void append(const wire::Message& message) = 0;
  // Returns the messages a history query asks for, oldest first.
  virtual std::vector<wire::Message> query(const HistoryQuery& query) const = 0;
  // Returns the id of the newest stored message, if any.
  virtual std::optional<std::string> newest_id() const = 0;
  // Returns how many messages are stored.
  virtual std::size_t size() const = 0;
};

// Keeps the newest messages in memory (lost on restart).
class MemoryStore final : public MessageStore {
 public:
  // Enough for a page's worth of history in every busy room of a small deployment.
  static constexpr std::size_t k_default_capacity = 100'000;

  explicit MemoryStore(std::size_t capacity = k_default_capacity) : m_capacity(capacity) {}

  void append(const wire::Message& message) override;
  std::vector<wire::Message> query(const HistoryQuery& query) const override;
  std::optional<std::string> newest_id() const override;
  std::size_t size() const override;

 private:
  std::size_t m_capacity;
  mutable std::mutex m_mutex;
  std::deque<wire::Message> m_messages;
};

}  // namespace livechat::server
