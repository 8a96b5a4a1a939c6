#include "server/service/outbox.hpp"

#include <spdlog/spdlog.h>
#include <future>
#include <memory>

namespace livechat::server::service {

using Batch = store::MessageStore::Batch;

Outbox::Outbox(store::MessageStore& store, Notifier* notifier)
    : m_store(store),
      m_notifier(notifier),
      m_queue(store.max_batch(), store.idle_interval()),
      m_thread([this] { run(); }) {}

Outbox::~Outbox() {
  m_queue.close();
  m_thread.join();
}

CommitQueue::Outcome Outbox::submit(wire::Draft draft) {
  // Answered only once stored and forwarded; concurrent posts wait for the same commit. The
  // promise is shared with what hears of the draft, so it outlives the outbox's call of it.
  auto stored = std::make_shared<std::promise<CommitQueue::Outcome>>();
  auto result = stored->get_future();
  submit(std::move(draft),
         [stored](CommitQueue::Outcome outcome) { stored->set_value(std::move(outcome)); });
  return result.get();
}

void Outbox::submit(wire::Draft draft, CommitQueue::Done done) {
  m_queue.enqueue(std::move(draft), std::move(done));
}

void Outbox::run() {
  replay();
  // An empty turn (woken or idle) is the store's upkeep: a moved cursor, a health probe.
  while (auto turn = m_queue.next()) {
    auto written = m_store.write(turn->drafts);
    store::MessageStore::Written* done = written ? &*written : nullptr;
    if (done != nullptr && done->answers.size() != turn->drafts.size()) {
      spdlog::error("a store answered {} of {} drafts", done->answers.size(), turn->drafts.size());
      done = nullptr;
    }
    // Forwarded from this one thread, so in store order; and before the posts are answered,
    // so a client that resumes from an id it was just given finds it.
    if (done != nullptr && !done->stored.empty() && m_notifier != nullptr) {
      m_notifier->forward(done->stored);
    }
    m_queue.answer(*turn, done);
    if (record_confirmed()) {
      m_queue.wake();  // the next turn writes the cursor
    }
  }
  if (m_notifier != nullptr) {
    // What the notifier still confirms while it finishes is kept for the next start too.
    m_notifier->finish();
    if (record_confirmed()) {
      std::vector<wire::Draft> none;
      m_store.write(none);
    }
  }
}

void Outbox::replay() {
  if (m_notifier == nullptr) {
    return;
  }
  auto pending = m_store.unforwarded();
  if (!pending.empty()) {
    spdlog::info("forwarding {} stored messages not yet confirmed", pending.size());
    m_notifier->forward(pending);
  }
  if (record_confirmed()) {
    m_queue.wake();
  }
}

bool Outbox::record_confirmed() {
  if (m_notifier == nullptr) {
    return false;
  }
  auto confirmed = m_notifier->confirmed();
  if (confirmed.empty() || confirmed == m_confirmed) {
    return false;
  }
  m_confirmed = confirmed;
  m_store.mark_forwarded(confirmed);
  return true;
}

}  // namespace livechat::server::service
