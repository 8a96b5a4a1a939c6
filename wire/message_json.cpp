#include <nlohmann/json.hpp>

#include "wire/message.hpp"

// How messages and the other events of the log are written as JSON: directly, byte for byte
// what nlohmann::json's dump() would write.

namespace livechat::wire {
namespace {

using json = nlohmann::json;

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

// Writes an edit, delete or reaction as its notification.
std::string change_json(const Message& m) {
  const std::string_view type = event_name(m.kind);
  switch (m.kind) {
    case EventKind::edit:
      return json_object({{"type", type},
                          {"id", m.id},
                          {"message_id", m.message_id},
                          {"room", m.room},
                          {"user", m.user},
                          {"content", m.content},
                          {"timestamp", m.timestamp}});
    case EventKind::deletion:
      return json_object({{"type", type},
                          {"id", m.id},
                          {"message_id", m.message_id},
                          {"room", m.room},
                          {"user", m.user},
                          {"timestamp", m.timestamp}});
    default:
      return json_object({{"type", type},
                          {"id", m.id},
                          {"message_id", m.message_id},
                          {"room", m.room},
                          {"user", m.user},
                          {"emoji", m.emoji},
                          {"action", m.removed ? "remove" : "add"},
                          {"timestamp", m.timestamp}});
  }
}

// Appends a message's state to its object (which ends in '}'): "edited", "reactions".
void append_state(std::string& out, const Message& m) {
  if (m.edited.empty() && m.reactions.empty()) {
    return;
  }
  out.pop_back();
  if (!m.edited.empty()) {
    out += ",\"edited\":";
    append_json_string(out, m.edited);
  }
  if (!m.reactions.empty()) {
    out += ",\"reactions\":{";
    for (std::size_t i = 0; i < m.reactions.size(); ++i) {
      out += i == 0 ? "" : ",";
      append_json_string(out, m.reactions[i].emoji);
      out += ":[";
      for (std::size_t u = 0; u < m.reactions[i].users.size(); ++u) {
        out += u == 0 ? "" : ",";
        append_json_string(out, m.reactions[i].users[u]);
      }
      out += ']';
    }
    out += '}';
  }
  out += '}';
}

}  // namespace

std::string_view event_name(EventKind kind) {
  switch (kind) {
    case EventKind::edit:
      return "edit";
    case EventKind::deletion:
      return "delete";
    case EventKind::reaction:
      return "reaction";
    default:
      return "message";
  }
}

std::string stored_json(const Message& m) {
  if (m.kind != EventKind::message) {
    return change_json(m);
  }
  std::string out = message_json(m, {"status", "sent"});
  append_state(out, m);
  return out;
}

std::string notification_json(const Message& m) {
  if (m.kind != EventKind::message) {
    return change_json(m);
  }
  return message_json(m, {"type", "message"});
}

std::string deleted_json(const std::string& message_id) {
  std::string out = "{\"id\":";
  append_json_string(out, message_id);
  return out + ",\"deleted\":true}";
}

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

}  // namespace livechat::wire
