#include "server/service/commit_queue.hpp"

namespace livechat::server::service {

CommitQueue::CommitQueue(std::size_t max_batch, std::chrono::milliseconds idle)
    : m_max_batch(max_batch), m_idle(idle) {}

std::uint64_t CommitQueue::enqueue(wire::Draft draft) {
  std::lock_guard lock(m_mutex);
  std::uint64_t ticket = ++m_next_ticket;
  if (m_finished) {
    m_done_ticket = ticket;  // no loop writes it any more: it fails
    return ticket;
  }
  m_pending.push_back({ticket, std::move(draft), {}});
  m_work.notify_one();
  return ticket;
}

void CommitQueue::enqueue(wire::Draft draft, Done done) {
  {
    std::lock_guard lock(m_mutex);
    if (!m_finished) {
      m_pending.push_back({++m_next_ticket, std::move(draft), std::move(done)});
      m_work.notify_one();
      return;
    }
  }
  done(std::nullopt);  // no loop writes it any more
}

std::optional<wire::Message> CommitQueue::wait(std::uint64_t ticket) {
  std::unique_lock lock(m_mutex);
  m_done.wait(lock, [&] { return m_done_ticket >= ticket; });
  auto it = m_stored.find(ticket);
  if (it == m_stored.end()) {
    return std::nullopt;  // its turn failed
  }
  wire::Message message = std::move(it->second);
  m_stored.erase(it);
  return message;
}

std::optional<CommitQueue::Turn> CommitQueue::next() {
  std::unique_lock lock(m_mutex);
  m_work.wait_for(lock, m_idle, [&] { return m_closed || m_woken || !m_pending.empty(); });
  if (m_closed && m_pending.empty() && !m_woken) {
    m_finished = true;
    return std::nullopt;
  }
  m_woken = false;
  // Everything that queued up while the last turn was written goes into this one.
  Turn turn;
  while (!m_pending.empty() && turn.drafts.size() < m_max_batch) {
    turn.tickets.push_back(m_pending.front().ticket);
    turn.drafts.push_back(std::move(m_pending.front().draft));
    turn.dones.push_back(std::move(m_pending.front().done));
    m_pending.pop_front();
  }
  return turn;
}

void CommitQueue::answer(Turn& turn, Batch* stored) {
  if (turn.tickets.empty()) {
    return;
  }
  {
    std::lock_guard lock(m_mutex);
    for (std::size_t i = 0; i < turn.tickets.size(); ++i) {
      if (stored != nullptr && !turn.dones[i]) {
        m_stored.emplace(turn.tickets[i], std::move((*stored)[i]));
      }
    }
    m_done_ticket = turn.tickets.back();
    m_done.notify_all();
  }
  for (std::size_t i = 0; i < turn.tickets.size(); ++i) {
    if (turn.dones[i]) {
      turn.dones[i](stored != nullptr ? std::optional<wire::Message>(std::move((*stored)[i]))
                                      : std::nullopt);
    }
  }
}

void CommitQueue::wake() {
  std::lock_guard lock(m_mutex);
  m_woken = true;
  m_work.notify_one();
}

void CommitQueue::close() {
  std::lock_guard lock(m_mutex);
  m_closed = true;
  m_work.notify_all();
}

}  // namespace livechat::server::service
