#include <algorithm>

#include "wire/message.hpp"

// The text rules of messages: room names and lists, UTF-8, JSON nesting.

namespace livechat::wire {
namespace {

ApiError bad(ApiErrorKind kind, std::string message) { return {kind, std::move(message)}; }

}  // namespace

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
