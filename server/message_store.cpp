#include "server/message_store.hpp"

#include <algorithm>

namespace livechat::server {

void MemoryStore::append(const wire::Message& message) {
  std::lock_guard lock(m_mutex);
  m_messages.push_back(message);
  while (m_messages.size() > m_capacity) {
    m_messages.pop_front();
  }
}

std::vector<wire::Message> MemoryStore::query(const HistoryQuery& q) const {
  std::lock_guard lock(m_mutex);
  auto matches = [&](const wire::Message& m) {
    return (!q.room || m.room == *q.room) && (!q.after || m.id > *q.after) &&
           (!q.before || m.id < *q.before);
  };
  std::vector<wire::Message> out;
  if (q.after) {
    // Oldest first from the cursor on.
    auto it =
        std::upper_bound(m_messages.begin(), m_messages.end(), *q.after,
                         [](const std::string& id, const wire::Message& m) { return id < m.id; });
    for (; it != m_messages.end() && out.size() < q.limit; ++it) {
      if (matches(*it)) {
        out.push_back(*it);
      }
    }
    return out;
  }
  // The newest `limit` ones, walking back from the end (or from `before`).
  auto it = m_messages.end();
  if (q.before) {
    it = std::lower_bound(m_messages.begin(), m_messages.end(), *q.before,
                          [](const wire::Message& m, const std::string& id) { return m.id < id; });
  }
  while (it != m_messages.begin() && out.size() < q.limit) {
    --it;
    if (matches(*it)) {
      out.push_back(*it);
    }
  }
  std::reverse(out.begin(), out.end());
  return out;
}

std::optional<std::string> MemoryStore::newest_id() const {
  std::lock_guard lock(m_mutex);
  if (m_messages.empty()) {
    return std::nullopt;
  }
  return m_messages.back().id;
}

std::size_t MemoryStore::size() const {
  std::lock_guard lock(m_mutex);
  return m_messages.size();
}

}  // namespace livechat::server
