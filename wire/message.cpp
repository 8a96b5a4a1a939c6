#include "wire/message.hpp"

#include <algorithm>
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

// Appends `text` as a JSON string, byte for byte what nlohmann::json's dump() writes (UTF-8 as
// it is, control characters escaped, \u00xx in lower case); text that is not UTF-8 goes through
// nlohmann, which replaces what it cannot read. Written directly, a message's JSON costs one
// string, not an object tree of a dozen allocations: the outbox's thread writes two per post.
void append_json_string(std::string& out, std::string_view text) {
  if (!is_valid_utf8(text)) {
    out += json(std::string(text)).dump(-1, ' ', false, json::error_handler_t::replace);
    return;
  }
  static constexpr char k_hex[] = "0123456789abcdef";
  out += '"';
  std::size_t plain = 0;  // the start of the run not yet copied
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c != '"' && c != '\\') {
      continue;
    }
    out.append(text.substr(plain, i - plain));
    plain = i + 1;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += "\\u00";
        out += k_hex[c >> 4];
        out += k_hex[c & 0xf];
    }
  }
  out.append(text.substr(plain));
  out += '"';
}

// Writes `{"name":"value",...}` of string fields, in order.
std::string json_object(
    std::initializer_list<std::pair<std::string_view, std::string_view>> fields) {
  std::size_t size = 2;
  for (const auto& [name, value] : fields) {
    size += name.size() + value.size() + 6;
  }
  std::string out;
  out.reserve(size + 16);
  out += '{';
  for (const auto& [name, value] : fields) {
    if (out.size() > 1) {
      out += ',';
    }
    out += '"';
    out += name;  // names are plain ASCII
    out += "\":";
    append_json_string(out, value);
  }
  out += '}';
  return out;
}

// Writes a message's fields, then `last` (what it is: stored, or a notification).
std::string message_json(const Message& m, std::pair<std::string_view, std::string_view> last) {
  return json_object({{"id", m.id},
                      {"content", m.content},
                      {"user", m.user},
                      {"room", m.room},
                      {"timestamp", m.timestamp},
                      last});
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
  Message message{*id, {}, {}, {}, {}};
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
  auto content_it = object.find("content");
  if (content_it == object.end() || content_it->is_null()) {
    return bad(ApiErrorKind::bad_content, "\"content\" is required");
  }
  if (!content_it->is_string()) {
    return bad(ApiErrorKind::bad_content, "\"content\" must be a string");
  }
  Draft draft;
  draft.content = content_it->get<std::string>();
  if (is_blank(draft.content)) {
    return bad(ApiErrorKind::bad_content, "\"content\" must not be empty");
  }
  if (draft.content.size() > limits.max_content_bytes) {
    return bad(ApiErrorKind::too_large,
               "\"content\" is longer than " + std::to_string(limits.max_content_bytes) + " bytes");
  }
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

std::string stored_json(const Message& m) { return message_json(m, {"status", "sent"}); }

std::string notification_json(const Message& m) { return message_json(m, {"type", "message"}); }

std::string notification_array_json(const std::vector<Message>& messages) {
  std::string out = "[";
  for (const auto& m : messages) {
    out.append(out.size() > 1 ? "," : "").append(notification_json(m));
  }
  return out.append("]");
}

std::string stored_array_json(const std::vector<Message>& messages) {
  std::string out = "[";
  for (const auto& m : messages) {
    out.append(out.size() > 1 ? "," : "").append(stored_json(m));
  }
  return out.append("]");
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

bool is_valid_room(std::string_view room) {
  if (room.empty() || room.size() > k_max_room_length) {
    return false;
  }
  return std::all_of(room.begin(), room.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
  });
}

bool in_rooms(const std::vector<std::string>& rooms, std::string_view room) {
  return rooms.empty() || std::find(rooms.begin(), rooms.end(), room) != rooms.end();
}

Result<std::vector<std::string>, ApiError> parse_room_list(std::string_view list) {
  std::vector<std::string> rooms;
  while (!list.empty()) {
    auto comma = list.find(',');
    auto room = list.substr(0, comma);
    if (!is_valid_room(room)) {
      return bad(ApiErrorKind::bad_room,
                 "room names are " + std::string(k_room_rule) + ", separated by commas");
    }
    if (std::find(rooms.begin(), rooms.end(), room) == rooms.end()) {
      rooms.emplace_back(room);
    }
    if (comma == std::string_view::npos) {
      break;
    }
    list.remove_prefix(comma + 1);
    if (list.empty()) {
      return bad(ApiErrorKind::bad_room, "room list ends with a comma");
    }
  }
  return rooms;
}

bool is_valid_utf8(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  std::size_t i = 0;
  const std::size_t n = text.size();
  while (i < n) {
    unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) {
        lo = 0xA0;  // no overlongs
      } else if (c == 0xED) {
        hi = 0x9F;  // no surrogates
      }
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) {
        lo = 0x90;
      } else if (c == 0xF4) {
        hi = 0x8F;  // nothing past U+10FFFF
      }
    } else {
      return false;
    }
    if (i + len > n) {
      return false;
    }
    if (s[i + 1] < lo || s[i + 1] > hi) {
      return false;
    }
    for (std::size_t k = 2; k < len; ++k) {
      if (s[i + k] < 0x80 || s[i + k] > 0xBF) {
        return false;
      }
    }
    i += len;
  }
  return true;
}

std::size_t json_depth(std::string_view text) {
  std::size_t depth = 0;
  std::size_t deepest = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

}  // namespace livechat::wire
