#include "server/hub/event_log.hpp"

#include <algorithm>

#include "wire/id.hpp"
#include "wire/sse.hpp"

namespace livechat::server::hub {

EventLog::EventLog(EventLogLimits limits) : m_limits(limits) {}

std::string encode_message_frame(const wire::Message& message) {
  return wire::sse::encode_event(message.id, wire::event_name(message.kind),
                                 wire::notification_json(message));
}

std::size_t EventLog::append(const std::vector<wire::Message>& messages) {
  // Frames are encoded outside the lock: publishers only contend for the append itself.
  std::vector<std::shared_ptr<const std::string>> frames;
  frames.reserve(messages.size());
  for (const auto& m : messages) {
    frames.push_back(std::make_shared<const std::string>(encode_message_frame(m)));
  }
  std::lock_guard lock(m_mutex);
  std::size_t added = 0;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    if (!m_seq_of.emplace(messages[i].id, m_head).second) {
      continue;  // a redelivery: the hub already has it
    }
    m_bytes += frames[i]->size();
    m_entries.push_back({m_head++, messages[i].id, messages[i].room, std::move(frames[i])});
    ++added;
  }
  trim_locked();
  return added;
}

void EventLog::trim_locked() {
  while (!m_entries.empty() &&
         (m_entries.size() > m_limits.max_events || m_bytes > m_limits.max_bytes)) {
    m_bytes -= m_entries.front().frame->size();
    m_seq_of.erase(m_entries.front().id);
    if (m_floor) {
      m_floor = m_entries.front().id;
    }
    m_entries.pop_front();
  }
}

void EventLog::follow_from(std::string origin) {
  std::lock_guard lock(m_mutex);
  m_floor = std::move(origin);
}

ResumePoint EventLog::locate(std::string_view last_event_id) const {
  std::lock_guard lock(m_mutex);
  if (auto it = m_seq_of.find(std::string(last_event_id)); it != m_seq_of.end()) {
    return {ResumePoint::Kind::found, it->second + 1, {}};
  }
  if (m_floor) {
    // A followed stream's ids are the message service's, in log order.
    if (!wire::parse_id(last_event_id)) {
      return {ResumePoint::Kind::unknown, m_head, {}};
    }
    if (last_event_id <= std::string_view(*m_floor)) {
      return {ResumePoint::Kind::earlier, m_entries.empty() ? m_head : m_entries.front().seq,
              *m_floor};
    }
    // Not an id the stream has (or not read yet): everything after it is.
    auto after = std::upper_bound(
        m_entries.begin(), m_entries.end(), last_event_id,
        [](std::string_view id, const LogEntry& entry) { return id < std::string_view(entry.id); });
    return {ResumePoint::Kind::found, after == m_entries.end() ? m_head : after->seq, {}};
  }
  // Ids sort by time, so one older than the oldest held was trimmed away.
  bool older = !m_entries.empty() && last_event_id < std::string_view(m_entries.front().id);
  return {older ? ResumePoint::Kind::expired : ResumePoint::Kind::unknown, m_head, {}};
}

std::uint64_t EventLog::head() const {
  std::lock_guard lock(m_mutex);
  return m_head;
}

std::uint64_t EventLog::tail() const {
  std::lock_guard lock(m_mutex);
  return m_entries.empty() ? m_head : m_entries.front().seq;
}

std::vector<LogEntry> EventLog::range(std::uint64_t from, std::uint64_t to) const {
  std::lock_guard lock(m_mutex);
  std::vector<LogEntry> out;
  if (m_entries.empty()) {
    return out;
  }
  std::uint64_t first = m_entries.front().seq;
  from = std::max(from, first);
  to = std::min(to, m_head);
  for (std::uint64_t seq = from; seq < to; ++seq) {
    out.push_back(m_entries[seq - first]);
  }
  return out;
}

std::size_t EventLog::size() const {
  std::lock_guard lock(m_mutex);
  return m_entries.size();
}

std::size_t EventLog::bytes() const {
  std::lock_guard lock(m_mutex);
  return m_bytes;
}

}  // namespace livechat::server::hub
