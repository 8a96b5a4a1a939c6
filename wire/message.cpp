#include "wire/message.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace livechat::wire {
namespace {

using json = nlohmann::json;

ApiError bad(ApiErrorKind kind, std::string message) { return {kind, std::move(message)}; }

bool is_blank(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
  });
}

// Parses a JSON text after the checks that keep the parser safe and the errors clear.
Result<json, ApiError> parse_json(std::string_view body, const Limits& limits) {
  // nlohmann::json takes a NUL byte for the end of the text and would ignore what follows;
  // JSON has none outside strings, and inside them it is written \u0000.
  if (body.find('\0') != std::string_view::npos) {
    return bad(ApiErrorKind::bad_json, "body is not valid JSON: it holds a NUL byte");
  }
  if (!is_valid_utf8(body)) {
    return bad(ApiErrorKind::bad_json, "body is not valid UTF-8");
  }
  if (json_depth(body) > limits.max_json_depth) {
    return bad(ApiErrorKind::bad_json,
               "JSON nests deeper than " + std::to_string(limits.max_json_depth) + " levels");
  }
  json parsed = json::parse(body, nullptr, false);
  if (parsed.is_discarded()) {
    return bad(ApiErrorKind::bad_json, "body is not valid JSON");
  }
  return parsed;
}

// Reads an optional string field; null counts as absent.
Result<std::string, ApiError> optional_string(const json& object, const char* field,
                                              ApiErrorKind kind) {
  auto it = object.find(field);
  if (it == object.end() || it->is_null()) {
    return std::string{};
  }
  if (!it->is_string()) {
    return bad(kind, std::string("\"") + field + "\" must be a string");
  }
  return it->get<std::string>();
}

// Reads a post's or an edit's "content": a string, not blank, within the limit.
Result<std::string, ApiError> read_content(const json& object, const Limits& limits) {
  auto content_it = object.find("content");
  if (content_it == object.end() || content_it->is_null()) {
    return bad(ApiErrorKind::bad_content, "\"content\" is required");
  }
  if (!content_it->is_string()) {
    return bad(ApiErrorKind::bad_content, "\"content\" must be a string");
  }
  std::string content = content_it->get<std::string>();
  if (is_blank(content)) {
    return bad(ApiErrorKind::bad_content, "\"content\" must not be empty");
  }
  if (content.size() > limits.max_content_bytes) {
    return bad(ApiErrorKind::too_large,
               "\"content\" is longer than " + std::to_string(limits.max_content_bytes) + " bytes");
  }
  return content;
}

// Reads the kind of a notification from its "type" (absent: a message).
Result<EventKind, ApiError> event_kind(const json& object) {
  auto type = optional_string(object, "type", ApiErrorKind::bad_request);
  if (!type) {
    return type.error();
  }
  if (type->empty()) {
    return EventKind::message;
  }
  for (auto kind :
       {EventKind::message, EventKind::edit, EventKind::deletion, EventKind::reaction}) {
    if (*type == event_name(kind)) {
      return kind;
    }
  }
  return bad(ApiErrorKind::bad_request,
             "\"type\" must be \"message\", \"edit\", \"delete\" or \"reaction\"");
}

// Reads a message's state from a stored object: "edited" and "reactions", when present.
std::optional<ApiError> read_state(const json& object, Message& message) {
  auto edited = optional_string(object, "edited", ApiErrorKind::bad_request);
  if (!edited) {
    return edited.error();
  }
  message.edited = std::move(*edited);
  auto it = object.find("reactions");
  if (it == object.end() || it->is_null()) {
    return std::nullopt;
  }
  const ApiError wrong{ApiErrorKind::bad_request,
                       "\"reactions\" must be an object of emoji to lists of users"};
  if (!it->is_object()) {
    return wrong;
  }
  for (const auto& [emoji, users] : it->items()) {
    if (!users.is_array()) {
      return wrong;
    }
    Reaction reaction{emoji, {}};
    for (const auto& user : users) {
      if (!user.is_string()) {
        return wrong;
      }
      reaction.users.push_back(user.get<std::string>());
    }
    message.reactions.push_back(std::move(reaction));
  }
  return std::nullopt;
}

Result<Message, ApiError> message_from_json(const json& object) {
  if (!object.is_object()) {
    return bad(ApiErrorKind::bad_request, "a notification must be a JSON object");
  }
  auto id = optional_string(object, "id", ApiErrorKind::bad_id);
  if (!id) {
    return id.error();
  }
  if (id->empty() || id->size() > k_max_id_bytes ||
      id->find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
    return bad(ApiErrorKind::bad_id,
               "\"id\" must be a string of 1-128 bytes with no line breaks or NUL");
  }
  Message message;
  message.id = std::move(*id);
  auto kind = event_kind(object);
  if (!kind) {
    return kind.error();
  }
  message.kind = *kind;
  auto content = optional_string(object, "content", ApiErrorKind::bad_content);
  auto user = optional_string(object, "user", ApiErrorKind::bad_user);
  auto room = optional_string(object, "room", ApiErrorKind::bad_room);
  auto timestamp = optional_string(object, "timestamp", ApiErrorKind::bad_request);
  for (const auto* field : {&content, &user, &room, &timestamp}) {
    if (!*field) {
      return field->error();
    }
  }
  message.content = std::move(*content);
  message.user = user->empty() ? std::string(k_default_user) : std::move(*user);
  message.room = room->empty() ? std::string(k_default_room) : std::move(*room);
  if (!is_valid_room(message.room)) {
    return bad(ApiErrorKind::bad_room, "\"room\" must be " + std::string(k_room_rule));
  }
  message.timestamp = std::move(*timestamp);
  if (message.kind == EventKind::message) {
    if (auto wrong = read_state(object, message)) {
      return *wrong;
    }
    return message;
  }
  auto target = optional_string(object, "message_id", ApiErrorKind::bad_id);
  if (!target) {
    return target.error();
  }
  if (target->empty() || target->size() > k_max_id_bytes) {
    return bad(ApiErrorKind::bad_id,
               "an edit, delete or reaction needs the \"message_id\" it changes");
  }
  message.message_id = std::move(*target);
  if (message.kind != EventKind::edit) {
    message.content.clear();  // only an edit carries text
  }
  if (message.kind == EventKind::reaction) {
    auto emoji = optional_string(object, "emoji", ApiErrorKind::bad_emoji);
    if (!emoji) {
      return emoji.error();
    }
    if (auto wrong = check_emoji(*emoji)) {
      return *wrong;
    }
    message.emoji = std::move(*emoji);
    auto action = optional_string(object, "action", ApiErrorKind::bad_request);
    if (!action) {
      return action.error();
    }
    if (*action != "add" && *action != "remove") {
      return bad(ApiErrorKind::bad_request, "a reaction's \"action\" is \"add\" or \"remove\"");
    }
    message.removed = *action == "remove";
  }
  return message;
}

Result<std::vector<Message>, ApiError> messages_from_array(const json& array) {
  std::vector<Message> messages;
  messages.reserve(array.size());
  for (const auto& item : array) {
    auto message = message_from_json(item);
    if (!message) {
      return message.error();
    }
    messages.push_back(std::move(*message));
  }
  return messages;
}

}  // namespace

Result<Draft, ApiError> parse_draft(std::string_view body, const Limits& limits) {
  auto parsed = parse_json(body, limits);
  if (!parsed) {
    return parsed.error();
  }
  const json& object = *parsed;
  if (!object.is_object()) {
    return bad(ApiErrorKind::bad_request,
               "body must be a JSON object like {\"content\":\"hi\",\"user\":\"ann\"}");
  }
  Draft draft;
  auto content = read_content(object, limits);
  if (!content) {
    return content.error();
  }
  draft.content = std::move(*content);
  auto user = optional_string(object, "user", ApiErrorKind::bad_user);
  if (!user) {
    return user.error();
  }
  if (user->size() > limits.max_user_bytes) {
    return bad(ApiErrorKind::bad_user,
               "\"user\" is longer than " + std::to_string(limits.max_user_bytes) + " bytes");
  }
  draft.user = user->empty() ? std::string(k_default_user) : std::move(*user);
  auto room = optional_string(object, "room", ApiErrorKind::bad_room);
  if (!room) {
    return room.error();
  }
  const bool room_given = object.contains("room") && !object["room"].is_null();
  draft.room = room_given ? std::move(*room) : std::string(k_default_room);
  if (!is_valid_room(draft.room)) {
    return bad(ApiErrorKind::bad_room, "\"room\" must be " + std::string(k_room_rule));
  }
  return draft;
}

Result<std::vector<Message>, ApiError> parse_notifications(std::string_view body,
                                                           const Limits& limits) {
  auto parsed = parse_json(body, limits);
  if (!parsed) {
    return parsed.error();
  }
  if (parsed->is_array()) {
    return messages_from_array(*parsed);
  }
  auto message = message_from_json(*parsed);
  if (!message) {
    return message.error();
  }
  return std::vector<Message>{std::move(*message)};
}

Result<ChangeBody, ApiError> parse_change(std::string_view body, const Limits& limits,
                                          bool needs_content) {
  ChangeBody change;
  if (!needs_content && is_blank(body)) {
    return change;
  }
  auto parsed = parse_json(body, limits);
  if (!parsed) {
    return parsed.error();
  }
  if (!parsed->is_object()) {
    return bad(ApiErrorKind::bad_request, "body must be a JSON object like {\"content\":\"hi\"}");
  }
  if (needs_content) {
    auto content = read_content(*parsed, limits);
    if (!content) {
      return content.error();
    }
    change.content = std::move(*content);
  }
  auto user = optional_string(*parsed, "user", ApiErrorKind::bad_user);
  if (!user) {
    return user.error();
  }
  if (user->size() > limits.max_user_bytes) {
    return bad(ApiErrorKind::bad_user,
               "\"user\" is longer than " + std::to_string(limits.max_user_bytes) + " bytes");
  }
  change.user = std::move(*user);
  return change;
}

std::optional<ApiError> check_emoji(std::string_view emoji) {
  const bool plain = std::none_of(emoji.begin(), emoji.end(), [](char c) {
    const auto b = static_cast<unsigned char>(c);
    return b <= 0x20 || b == 0x7f;
  });
  if (emoji.empty() || emoji.size() > k_max_emoji_bytes || !plain || !is_valid_utf8(emoji)) {
    return bad(ApiErrorKind::bad_emoji,
               "an emoji is 1-" + std::to_string(k_max_emoji_bytes) +
                   " bytes of UTF-8 (percent-encoded in the path) with no spaces or control "
                   "characters");
  }
  return std::nullopt;
}

std::optional<ApiError> check_idempotency_key(std::string_view key) {
  const bool printable =
      std::all_of(key.begin(), key.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
  if (key.empty() || key.size() > k_max_idempotency_key_bytes || !printable) {
    return bad(ApiErrorKind::bad_idempotency_key, "Idempotency-Key must be 1-" +
                                                      std::to_string(k_max_idempotency_key_bytes) +
                                                      " printable ASCII characters");
  }
  return std::nullopt;
}

std::string post_fingerprint(const Draft& draft) {
  // FNV-1a, 64 bits: stable across builds and machines, which keys kept in a store outlive.
  std::uint64_t hash = 14695981039346656037ULL;
  auto add = [&hash](std::string_view text) {
    for (char c : text) {
      hash = (hash ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
    }
  };
  add(draft.room);
  add(std::string_view("\0", 1));
  add(draft.content);
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(hash));
  return out;
}

Result<Message, ApiError> parse_message_json(std::string_view text) {
  auto parsed = parse_json(text, Limits{});
  if (!parsed) {
    return parsed.error();
  }
  return message_from_json(*parsed);
}

Result<std::vector<Message>, ApiError> parse_stored_messages(std::string_view text) {
  auto parsed = parse_json(text, Limits{});
  if (!parsed) {
    return parsed.error();
  }
  if (!parsed->is_array()) {
    return bad(ApiErrorKind::bad_request, "history must be a JSON array of messages");
  }
  return messages_from_array(*parsed);
}

}  // namespace livechat::wire