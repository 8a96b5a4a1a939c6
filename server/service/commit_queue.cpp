#include "server/service/commit_queue.hpp"

namespace livechat::server::service {
namespace {

wire::ApiError not_stored() {
  return {wire::ApiErrorKind::unavailable, "the message could not be stored; try again"};
}

}  // namespace

CommitQueue::CommitQueue(std::size_t max_batch, std::chrono::milliseconds idle)
    : m_max_batch(max_batch), m_idle(idle) {}

void CommitQueue::enqueue(wire::Draft draft, Done done) {
  {
    std::lock_guard lock(m_mutex);
    if (!m_finished) {
      m_pending.emplace_back(std::move(draft), std::move(done));
      m_work.notify_one();
      return;
    }
  }
  done(not_stored());  // no loop writes it any more
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
    turn.drafts.push_back(std::move(m_pending.front().first));
    turn.dones.push_back(std::move(m_pending.front().second));
    m_pending.pop_front();
  }
  return turn;
}

void CommitQueue::answer(Turn& turn, store::MessageStore::Written* written) {
  for (std::size_t i = 0; i < turn.dones.size(); ++i) {
    if (written == nullptr) {
      turn.dones[i](not_stored());
      continue;
    }
    auto& answer = written->answers[i];
    if (const auto* index = std::get_if<std::size_t>(&answer)) {
      turn.dones[i](std::move(written->stored[*index]));
    } else if (auto* message = std::get_if<wire::Message>(&answer)) {
      turn.dones[i](std::move(*message));
    } else {
      turn.dones[i](std::get<wire::ApiError>(answer));
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
