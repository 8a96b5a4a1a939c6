#pragma once

// Calls on a message store as its outbox makes them, for the store tests.

#include <optional>
#include <utility>
#include <vector>

#include "server/store/message_store.hpp"
#include "wire/message.hpp"

namespace livechat::test {

// Stores one draft; returns it as stored, or nothing.
inline std::optional<wire::Message> write_one(server::store::MessageStore& store,
                                              wire::Draft draft) {
  std::vector<wire::Draft> drafts{std::move(draft)};
  auto stored = store.write(drafts);
  if (!stored || stored->size() != 1) {
    return std::nullopt;
  }
  return stored->front();
}

// Does the store's upkeep (a PING, a probe write, a moved cursor), as its outbox does when
// idle; returns whether it succeeded.
inline bool upkeep(server::store::MessageStore& store) {
  std::vector<wire::Draft> none;
  return store.write(none).has_value();
}

}  // namespace livechat::test
