#include "server/store/commit_queue.hpp"

#include <spdlog/spdlog.h>

namespace livechat::server::store {

CommitQueue::CommitQueue(std::size_t max_batch, std::optional<std::chrono::milliseconds> idle)
    : m_max_batch(max_batch), m_idle(idle) {}

CommitQueue::~CommitQueue() { stop(); }

void CommitQueue::start(Write write) {
  m_write = std::move(write);
  m_thread = std::thread([this] { run(); });
}

void CommitQueue::stop() {
  {
    std::lock_guard lock(m_mutex);
    m_stopping = true;
  }
  m_work.notify_all();
  if (m_thread.joinable()) {
    m_thread.join();
  }
}

std::uint64_t CommitQueue::enqueue(wire::Draft draft) {
  std::lock_guard lock(m_mutex);
  std::uint64_t ticket = ++m_next_ticket;
  m_pending.emplace_back(ticket, std::move(draft));
  m_work.notify_one();
  return ticket;
}

std::optional<wire::Message> CommitQueue::wait(std::uint64_t ticket) {
  std::unique_lock lock(m_mutex);
  m_done.wait(lock, [&] { return m_done_ticket >= ticket; });
  auto it = m_stored.find(ticket);
  if (it == m_stored.end()) {
    return std::nullopt;  // its batch failed
  }
  wire::Message message = std::move(it->second);
  m_stored.erase(it);
  return message;
}

void CommitQueue::on_stored(std::function<void(const Batch&)> sink) {
  std::unique_lock lock(m_mutex);
  m_sink = std::move(sink);
  m_done.wait(lock, [&] { return !m_sinking; });
}

void CommitQueue::wake() {
  std::lock_guard lock(m_mutex);
  m_woken = true;
  m_work.notify_one();
}

void CommitQueue::run() {
  std::unique_lock lock(m_mutex);
  for (;;) {
    auto ready = [&] { return m_stopping || m_woken || !m_pending.empty(); };
    if (m_idle) {
      m_work.wait_for(lock, *m_idle, ready);
    } else {
      m_work.wait(lock, ready);
    }
    if (m_stopping && m_pending.empty() && !m_woken) {
      return;
    }
    m_woken = false;
    // Everything that queued up while the last write ran goes into this one.
    std::vector<std::uint64_t> tickets;
    std::vector<wire::Draft> drafts;
    while (!m_pending.empty() && drafts.size() < m_max_batch) {
      tickets.push_back(m_pending.front().first);
      drafts.push_back(std::move(m_pending.front().second));
      m_pending.pop_front();
    }
    lock.unlock();
    auto stored = m_write(drafts);
    if (stored && stored->size() != tickets.size()) {
      spdlog::error("a store wrote {} of {} messages", stored->size(), tickets.size());
      stored.reset();
    }
    lock.lock();
    auto sink = m_sink;
    m_sinking = stored && !stored->empty() && sink;
    lock.unlock();
    // Handed on from this one thread, so delivery order is store order; and before the posts
    // are answered, so a client that resumes from an id it was just given finds it.
    if (m_sinking) {
      sink(*stored);
    }
    lock.lock();
    m_sinking = false;
    if (stored) {
      for (std::size_t i = 0; i < tickets.size(); ++i) {
        m_stored.emplace(tickets[i], std::move((*stored)[i]));
      }
    }
    if (!tickets.empty()) {
      m_done_ticket = tickets.back();
    }
    m_done.notify_all();
  }
}

}  // namespace livechat::server::store
