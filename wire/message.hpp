#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "wire/errors.hpp"
#include "wire/result.hpp"

namespace livechat::wire {

// One stored chat message, as the message service answers it and the hub delivers it.
struct Message {
  std::string id;
  std::string content;
  std::string user;
  std::string room;
  std::string timestamp;

  bool operator==(const Message&) const = default;
};

// What a client asks to post, after validation.
struct Draft {
  std::string content;
  std::string user;
  std::string room;
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

// Parses a POST /notify body: one notification object or a JSON array of them.
Result<std::vector<Message>, ApiError> parse_notifications(std::string_view body,
                                                           const Limits& limits);

// Renders a message as the message service answers it (with "status":"sent").
std::string stored_json(const Message& message);

// Renders a message as a notification (with "type":"message") on one line.
std::string notification_json(const Message& message);

// Renders messages as one JSON array of notifications, for a batched POST /notify.
std::string notification_array_json(const std::vector<Message>& messages);

// Renders messages as the message service answers GET /messages: a JSON array of stored messages.
std::string stored_array_json(const std::vector<Message>& messages);

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
