#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "server/redis/connection.hpp"
#include "wire/message.hpp"

// How livechat appends to its Redis Stream: posts, and the edits, deletes and reactions of the
// messages in it, checked and appended by one script, atomically, with ids from one clock.
//
// Beside the stream: the state of a changed message in a hash (`<k_state_prefix><entry id>`:
// "deleted", "content" and "edited" (the edit's entry id) once edited, and "r:<emoji> <user>"
// = the reaction's entry id for each reaction), the changed messages by entry time in a sorted
// set (so a message's state goes once the stream is trimmed past it), and each Idempotency-Key
// under idempotency_key() for 24 hours (the first post's entry id and the request's
// fingerprint). The script names these keys itself: one Redis, not a cluster.
namespace livechat::server::redis {

inline constexpr std::string_view k_state_prefix = "livechat:message:";
inline constexpr std::string_view k_changed_key = "livechat:changed";

// Returns the key under which a user's Idempotency-Key is remembered.
std::string idempotency_key(std::string_view user, std::string_view key);

// Returns the command that appends drafts (posts and changes) to the stream in one atomic step,
// stamping each event with the next id from Redis's own clock; the reply is read with
// read_appended(). The stream is capped near `max_length` entries; keys last `key_window`.
std::vector<std::string> append_command(const std::vector<wire::Draft>& drafts,
                                        std::size_t max_length, std::chrono::seconds key_window);

// How the append script answered one draft.
struct Appended {
  enum class Outcome {
    stored,      // appended as `entry`
    repeat,      // a post with a key seen before, first stored as `entry`
    unchanged,   // a reaction that was already so: nothing appended
    not_found,   // no message has the id
    gone,        // the message was deleted
    not_author,  // an edit or delete by another user than `user`, the author
    key_reused,  // the key came with another request before
  };
  Outcome outcome = Outcome::not_found;
  std::string entry;
  // A repeat: the first post as stored (no room if it was trimmed since). A change: its
  // message's author, room and content as posted, and its state hash after the change.
  std::string user;
  std::string room;
  std::string content;
  Value state;
};

// Reads an append_command reply: one per draft, or fewer if it is not one.
std::vector<Appended> read_appended(const Value& reply);

// Returns the command that reads the state hashes of messages, by entry id (read-only, safe to
// repeat); the reply has one hash per entry, in order.
std::vector<std::string> state_command(const std::vector<std::string>& entries);

// Applies a state hash (HGETALL's field, value list) to its message: current content, when it
// was edited, its reactions in the order they were made; returns false if it was deleted.
bool apply_state(const Value& state, wire::Message& message);

}  // namespace livechat::server::redis
