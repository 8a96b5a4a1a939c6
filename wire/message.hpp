#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "wire/errors.hpp"
#include "wire/result.hpp"

namespace livechat::wire {

// What an entry of the one ordered log is: a new message, or a change to one.
enum class EventKind { message, edit, deletion, reaction };

// Returns the name an event goes by on the wire ("message", "edit", "delete", "reaction"):
// its SSE `event:` line and its JSON's "type".
std::string_view event_name(EventKind kind);

// One emoji on a message, with the users who reacted with it, in the order they did.
struct Reaction {
  std::string emoji{};
  std::vector<std::string> users;

  bool operator==(const Reaction&) const = default;
};

// One entry of the log, as the message service answers it and the hub delivers it: a chat
// message, or an edit, delete or reaction of one (then `message_id` names the message it
// changes). A message as history and answers show it also carries its state.
struct Message {
  std::string id;
  std::string content;  // a message's or an edit's text
  std::string user;     // who posted it, or who changed it
  std::string room;
  std::string timestamp;
  EventKind kind = EventKind::message;
  std::string message_id{};  // edit, delete, reaction: the message it changes
  std::string emoji{};       // reaction
  bool removed = false;      // reaction: taken back ("action":"remove")
  // The state of a message: when it was last edited (RFC 3339, empty if never), its reactions.
  std::string edited{};
  std::vector<Reaction> reactions{};

  bool operator==(const Message&) const = default;
};

// What a client asks to post or change, after validation.
struct Draft {
  std::string content;
  std::string user;
  std::string room;  // a post's; a change takes its message's
  EventKind kind = EventKind::message;
  std::string message_id{};  // what an edit, delete or reaction changes
  std::string emoji{};
  bool removed = false;
  // A post's Idempotency-Key (empty: none), and what its request said, to tell a retry of it
  // from another post that reuses the key.
  std::string idempotency_key{};
  std::string fingerprint{};
};

// Bounds on what a client may post.
struct Limits {
  // Large enough for a pasted log excerpt, small enough that one message never dominates a
  // subscriber's queue.
  std::size_t max_content_bytes = 64 * 1024;
  std::size_t max_user_bytes = 128;
  // Chat messages are flat objects; deep nesting is only ever an attack on the parser.
  std::size_t max_json_depth = 32;
};

inline constexpr std::string_view k_default_user = "anonymous";
inline constexpr std::string_view k_default_room = "general";
inline constexpr std::size_t k_max_room_length = 64;
// Ids go out as SSE `id:` lines and come back as Last-Event-ID headers.
inline constexpr std::size_t k_max_id_bytes = 128;

// Validates a POST /messages body and returns the draft it asks to post.
Result<Draft, ApiError> parse_draft(std::string_view body, const Limits& limits);

// What the body of a change (PATCH or DELETE of a message, a reaction) says.
struct ChangeBody {
  std::string content;  // an edit's new text
  std::string user;     // who changes it, when there is no token (empty: not said)
};

// Validates a change's body: {"content":"..."} with the same rules as a post's when
// `needs_content` (an edit), and an optional "user"; without content, an empty body is fine.
Result<ChangeBody, ApiError> parse_change(std::string_view body, const Limits& limits,
                                          bool needs_content);

// Checks a reaction's emoji (percent-decoded): 1-32 bytes of UTF-8, no control characters or
// spaces.
std::optional<ApiError> check_emoji(std::string_view emoji);
inline constexpr std::size_t k_max_emoji_bytes = 32;

// Checks an Idempotency-Key header: 1-128 printable ASCII characters.
std::optional<ApiError> check_idempotency_key(std::string_view key);
inline constexpr std::size_t k_max_idempotency_key_bytes = 128;

// Returns what identifies a post's request for its Idempotency-Key: its room and content.
std::string post_fingerprint(const Draft& draft);

// Parses a POST /notify body: one notification object or a JSON array of them.
Result<std::vector<Message>, ApiError> parse_notifications(std::string_view body,
                                                           const Limits& limits);

// Renders a message as the message service answers it (with "status":"sent"), with its state
// ("edited", "reactions") when it has any.
std::string stored_json(const Message& message);

// Renders an event as a notification on one line: a message's (with "type":"message"), or an
// edit's, delete's or reaction's ("type":"edit", ..., with "message_id").
std::string notification_json(const Message& message);

// Renders messages as one JSON array of notifications, for a batched POST /notify.
std::string notification_array_json(const std::vector<Message>& messages);

// Renders messages as the message service answers GET /messages: a JSON array of stored messages.
std::string stored_array_json(const std::vector<Message>& messages);

// Renders what DELETE /messages/{id} answers: {"id":"...","deleted":true}.
std::string deleted_json(const std::string& message_id);

// Parses one notification or stored message object (as `listen` receives them).
Result<Message, ApiError> parse_message_json(std::string_view text);

// Parses a GET /messages answer, as `listen` reads history: a JSON array of stored messages.
Result<std::vector<Message>, ApiError> parse_stored_messages(std::string_view text);

// Says what a room name may be, as the errors about one put it.
inline constexpr std::string_view k_room_rule = "1-64 characters of A-Z a-z 0-9 _ . -";

// Tells whether a room name is 1-64 characters of [A-Za-z0-9_.-].
bool is_valid_room(std::string_view room);

// Tells whether a stream or reader that follows `rooms` (empty: every room) wants `room`.
bool in_rooms(const std::vector<std::string>& rooms, std::string_view room);

// Parses a comma-separated room list ("general,ops"); empty means every room.
Result<std::vector<std::string>, ApiError> parse_room_list(std::string_view list);

// Tells whether text is well-formed UTF-8 (no overlongs, surrogates or values past U+10FFFF).
bool is_valid_utf8(std::string_view text);

// Returns how deeply arrays and objects nest in a JSON text (strings are skipped).
std::size_t json_depth(std::string_view text);

}  // namespace livechat::wire
