#pragma once

#include <optional>
#include <string>
#include <thread>

#include "server/service/commit_queue.hpp"
#include "server/service/notifier.hpp"
#include "server/store/message_store.hpp"
#include "wire/message.hpp"

namespace livechat::server::service {

// Owns the loop from a post to the notification side: submitted drafts are group-committed by
// the store, each stored batch is forwarded in store order before its posts are answered, and
// what the notification side confirmed is recorded in the store. What was stored but never
// confirmed is forwarded first, at start.
class Outbox {
 public:
  // Starts the loop; without a notifier nothing is forwarded (a Redis store carries messages
  // to the notification side itself).
  Outbox(store::MessageStore& store, Notifier* notifier);
  // Writes and forwards what is still submitted, lets the notifier finish, records its last
  // confirmation, and stops.
  ~Outbox();
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  // Stores a draft with the next id and time and forwards it; returns how it was written once
  // both are done.
  CommitQueue::Outcome submit(wire::Draft draft);

  // The same without waiting: `done` hears the outcome on the outbox's thread, once the draft
  // is stored and forwarded (or could not be stored).
  void submit(wire::Draft draft, CommitQueue::Done done);

 private:
  void run();
  // Forwards what the store holds but the notification side never confirmed.
  void replay();
  // Records the notifier's newest confirmation in the store; returns whether it moved.
  bool record_confirmed();

  store::MessageStore& m_store;
  Notifier* m_notifier;
  CommitQueue m_queue;
  std::string m_confirmed;  // the newest confirmation recorded (the loop's thread only)
  std::thread m_thread;
};

}  // namespace livechat::server::service
