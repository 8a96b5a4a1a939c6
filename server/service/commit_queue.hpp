#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "server/store/message_store.hpp"
#include "wire/message.hpp"

namespace livechat::server::service {

// Group commit: posts queue their drafts with what hears of each, while the one loop that
// writes takes all that queued up meanwhile as one turn, writes it, then tells each of them.
class CommitQueue {
 public:
  using Batch = std::vector<wire::Message>;

  // How a draft was written: the message it answers with (as stored, or in its new state), or
  // why not (refused by the store, or not stored at all: unavailable).
  using Outcome = wire::Result<wire::Message, wire::ApiError>;

  // Hears, on the writing loop's thread, how a draft was written.
  using Done = std::function<void(Outcome)>;

  // What one write takes: drafts in queue order, and what hears of each.
  struct Turn {
    std::vector<wire::Draft> drafts;
    std::vector<Done> dones;  // one per draft
  };

  // A turn takes at most `max_batch` drafts; an idle loop gets an empty turn every `idle`.
  CommitQueue(std::size_t max_batch, std::chrono::milliseconds idle);
  CommitQueue(const CommitQueue&) = delete;
  CommitQueue& operator=(const CommitQueue&) = delete;

  // Queues a draft whose outcome `done` hears once its turn was written; nobody waits. Once
  // the queue finished, `done` hears of the failure at once.
  void enqueue(wire::Draft draft, Done done);

  // Waits for drafts, a wake() or the idle interval; returns what queued meanwhile (perhaps
  // nothing), or no turn once closed and emptied.
  std::optional<Turn> next();

  // Tells what hears of each draft of a turn how it was written (its stored events moved
  // from), or that it could not be stored if `written` is null, on the calling thread.
  void answer(Turn& turn, store::MessageStore::Written* written);

  // Makes next() return soon even if nothing is queued.
  void wake();

  // Makes next() return what is still queued, then no more turns; later drafts fail at once.
  void close();

 private:
  std::size_t m_max_batch;
  std::chrono::milliseconds m_idle;
  std::mutex m_mutex;
  std::condition_variable m_work;
  std::deque<std::pair<wire::Draft, Done>> m_pending;
  bool m_woken = false;
  bool m_closed = false;
  bool m_finished = false;  // next() returned no turn: nothing more is written
};

}  // namespace livechat::server::service
