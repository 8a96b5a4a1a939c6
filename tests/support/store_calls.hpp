#pragma once

// Calls on a message store as its outbox makes them, for the store tests.

#include <optional>
#include <utility>
#include <vector>

#include "server/store/message_store.hpp"
#include "wire/message.hpp"

namespace livechat::test {

// Stores one post; returns it as stored, or nothing.
inline std::optional<wire::Message> write_one(server::store::MessageStore& store,
                                              wire::Draft draft) {
  std::vector<wire::Draft> drafts{std::move(draft)};
  auto written = store.write(drafts);
  if (!written || written->stored.size() != 1 || written->answers.size() != 1) {
    return std::nullopt;
  }
  return written->stored.front();
}

// Writes one draft (a post or a change); returns how it is answered: its message, or why it
// was refused. Nothing if the store could not write at all.
inline std::optional<wire::Result<wire::Message, wire::ApiError>> answer_one(
    server::store::MessageStore& store, wire::Draft draft) {
  std::vector<wire::Draft> drafts{std::move(draft)};
  auto written = store.write(drafts);
  if (!written || written->answers.size() != 1) {
    return std::nullopt;
  }
  auto& answer = written->answers.front();
  if (const auto* index = std::get_if<std::size_t>(&answer)) {
    return wire::Result<wire::Message, wire::ApiError>(written->stored.at(*index));
  }
  if (auto* message = std::get_if<wire::Message>(&answer)) {
    return wire::Result<wire::Message, wire::ApiError>(std::move(*message));
  }
  return wire::Result<wire::Message, wire::ApiError>(std::get<wire::ApiError>(answer));
}

// Does the store's upkeep (a PING, a probe write, a moved cursor), as its outbox does when
// idle; returns whether it succeeded.
inline bool upkeep(server::store::MessageStore& store) {
  std::vector<wire::Draft> none;
  return store.write(none).has_value();
}

}  // namespace livechat::test
