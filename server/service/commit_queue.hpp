#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "wire/message.hpp"

namespace livechat::server::service {

// Group commit: posts queue their drafts and wait, while the one loop that writes takes all
// that queued up meanwhile as one turn, writes it, then answers every waiter of that turn.
class CommitQueue {
 public:
  using Batch = std::vector<wire::Message>;

  // Hears, on the writing loop's thread, how a draft was written: as stored, or nothing on
  // failure.
  using Done = std::function<void(std::optional<wire::Message>)>;

  // What one write takes: drafts in queue order, and the tickets of their waiters (or what
  // hears of them).
  struct Turn {
    std::vector<std::uint64_t> tickets;
    std::vector<wire::Draft> drafts;
    std::vector<Done> dones;  // one per draft; empty where a waiter waits
  };

  // A turn takes at most `max_batch` drafts; an idle loop gets an empty turn every `idle`.
  CommitQueue(std::size_t max_batch, std::chrono::milliseconds idle);
  CommitQueue(const CommitQueue&) = delete;
  CommitQueue& operator=(const CommitQueue&) = delete;

  // Queues a draft; returns a ticket for wait().
  std::uint64_t enqueue(wire::Draft draft);

  // Queues a draft whose outcome `done` hears once its turn was written; nobody waits.
  void enqueue(wire::Draft draft, Done done);

  // Waits until the draft of `ticket` was written; returns it as stored, or nothing on failure.
  std::optional<wire::Message> wait(std::uint64_t ticket);

  // Waits for drafts, a wake() or the idle interval; returns what queued meanwhile (perhaps
  // nothing), or no turn once closed and emptied.
  std::optional<Turn> next();

  // Answers the waiters of a turn with its drafts as stored (one message each, moved from), or
  // with failure if `stored` is null; what hears of a draft hears it here, on this thread.
  void answer(Turn& turn, Batch* stored);

  // Makes next() return soon even if nothing is queued.
  void wake();

  // Makes next() return what is still queued, then no more turns; later drafts fail at once.
  void close();

 private:
  std::size_t m_max_batch;
  std::chrono::milliseconds m_idle;
  std::mutex m_mutex;
  std::condition_variable m_work;
  std::condition_variable m_done;
  struct Queued {
    std::uint64_t ticket;
    wire::Draft draft;
    Done done;
  };
  std::deque<Queued> m_pending;
  std::unordered_map<std::uint64_t, wire::Message> m_stored;  // written, not yet collected
  std::uint64_t m_next_ticket = 0;
  std::uint64_t m_done_ticket = 0;
  bool m_woken = false;
  bool m_closed = false;
  bool m_finished = false;  // next() returned no turn: nothing more is written
};

}  // namespace livechat::server::service
