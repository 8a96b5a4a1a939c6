#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "wire/message.hpp"

namespace livechat::server::store {

// Group commit for a store: posts queue their drafts and wait, while one thread writes all that
// queued up meanwhile as one batch, hands the stored batch on, then answers every waiter of it.
class CommitQueue {
 public:
  using Batch = std::vector<wire::Message>;
  // Stamps and stores drafts as one batch, in order; returns them as stored, or nothing if they
  // could not be stored. Also called with no drafts after wake() and, if set, when idle.
  using Write = std::function<std::optional<Batch>(std::vector<wire::Draft>& drafts)>;

  // One write takes at most `max_batch` drafts; `idle` (if set) calls it with none that often.
  CommitQueue(std::size_t max_batch, std::optional<std::chrono::milliseconds> idle = {});
  ~CommitQueue();
  CommitQueue(const CommitQueue&) = delete;
  CommitQueue& operator=(const CommitQueue&) = delete;

  // Starts the writing thread.
  void start(Write write);

  // Writes what is queued, then stops the thread; the owner calls it before what `write` uses
  // goes away.
  void stop();

  // Queues a draft; returns a ticket for wait().
  std::uint64_t enqueue(wire::Draft draft);

  // Waits until the draft of `ticket` was written; returns it as stored, or nothing on failure.
  std::optional<wire::Message> wait(std::uint64_t ticket);

  // Sets what receives each stored batch, in order, before its posts are answered; once this
  // returns, the previous one is no longer being called.
  void on_stored(std::function<void(const Batch&)> sink);

  // Calls the write function soon even if nothing is queued (for work of the store's own).
  void wake();

 private:
  void run();

  std::size_t m_max_batch;
  std::optional<std::chrono::milliseconds> m_idle;
  Write m_write;
  std::mutex m_mutex;
  std::condition_variable m_work;
  std::condition_variable m_done;
  std::deque<std::pair<std::uint64_t, wire::Draft>> m_pending;
  std::unordered_map<std::uint64_t, wire::Message> m_stored;  // written, not yet collected
  std::uint64_t m_next_ticket = 0;
  std::uint64_t m_done_ticket = 0;
  std::function<void(const Batch&)> m_sink;
  bool m_sinking = false;
  bool m_woken = false;
  bool m_stopping = false;
  std::thread m_thread;
};

}  // namespace livechat::server::store
