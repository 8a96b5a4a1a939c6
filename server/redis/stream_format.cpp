#include "server/redis/stream_format.hpp"

#include <charconv>
#include <cstdint>

#include "wire/id.hpp"

namespace livechat::server::redis {
namespace {

std::optional<std::uint64_t> unsigned_number(std::string_view text) {
  std::uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || ptr != text.data() + text.size() || text.empty()) {
    return std::nullopt;
  }
  return value;
}

// Splits an entry id "<ms>-<seq>" into its two numbers.
std::optional<std::pair<std::uint64_t, std::uint64_t>> split_entry(std::string_view entry) {
  auto dash = entry.find('-');
  if (dash == std::string_view::npos) {
    return std::nullopt;
  }
  auto ms = unsigned_number(entry.substr(0, dash));
  auto seq = unsigned_number(entry.substr(dash + 1));
  if (!ms || !seq) {
    return std::nullopt;
  }
  return std::pair{*ms, *seq};
}

std::string join_entry(std::uint64_t ms, std::uint64_t seq) {
  return std::to_string(ms) + "-" + std::to_string(seq);
}

}  // namespace

std::optional<std::string> entry_id(std::string_view message_id) {
  auto micros = wire::parse_id(message_id);
  if (!micros || *micros < 0) {
    return std::nullopt;
  }
  return std::to_string(*micros / 1000) + "-" + std::to_string(*micros % 1000);
}

std::optional<std::string> next_entry(std::string_view entry) {
  auto parts = split_entry(entry);
  if (!parts) {
    return std::nullopt;
  }
  auto [ms, seq] = *parts;
  if (seq != UINT64_MAX) {
    return join_entry(ms, seq + 1);
  }
  if (ms != UINT64_MAX) {
    return join_entry(ms + 1, 0);
  }
  return std::nullopt;
}

std::optional<std::string> previous_entry(std::string_view entry) {
  auto parts = split_entry(entry);
  if (!parts) {
    return std::nullopt;
  }
  auto [ms, seq] = *parts;
  if (seq != 0) {
    return join_entry(ms, seq - 1);
  }
  if (ms != 0) {
    return join_entry(ms - 1, UINT64_MAX);
  }
  return std::nullopt;
}

std::optional<std::pair<std::string, std::string>> message_stamp(std::string_view entry_id) {
  auto parts = split_entry(entry_id);
  if (!parts || parts->second >= 1000 || parts->first > 253'402'300'799'999) {  // to 9999-12-31
    return std::nullopt;
  }
  auto micros = static_cast<std::int64_t>(parts->first * 1000 + parts->second);
  return std::pair{wire::format_id(micros), wire::format_timestamp(micros)};
}

std::optional<wire::EventKind> entry_kind(std::string_view type) {
  for (auto kind : {wire::EventKind::message, wire::EventKind::edit, wire::EventKind::deletion,
                    wire::EventKind::reaction}) {
    if (type == wire::event_name(kind)) {
      return kind;
    }
  }
  return std::nullopt;
}

std::vector<wire::Message> read_entries(const Value& entries) {
  std::vector<wire::Message> out;
  out.reserve(entries.items.size());
  for (const auto& entry : entries.items) {
    // [id, [field, value, field, value, ...]]
    if (entry.items.size() != 2 || entry.items[0].type != Value::Type::string) {
      continue;
    }
    auto stamp = message_stamp(entry.items[0].text);
    if (!stamp) {
      continue;
    }
    wire::Message message;
    message.id = std::move(stamp->first);
    message.timestamp = std::move(stamp->second);
    std::optional<wire::EventKind> kind = wire::EventKind::message;
    const auto& fields = entry.items[1].items;
    for (std::size_t i = 0; i + 1 < fields.size(); i += 2) {
      const std::string& name = fields[i].text;
      const std::string& value = fields[i + 1].text;
      if (name == "user") {
        message.user = value;
      } else if (name == "room") {
        message.room = value;
      } else if (name == "content") {
        message.content = value;
      } else if (name == "type") {
        kind = entry_kind(value);
      } else if (name == "message_id") {
        message.message_id = value;
      } else if (name == "emoji") {
        message.emoji = value;
      } else if (name == "action") {
        message.removed = value == "remove";
      }
    }
    if (!kind || message.room.empty() ||
        (*kind != wire::EventKind::message && message.message_id.empty())) {
      continue;
    }
    message.kind = *kind;
    out.push_back(std::move(message));
  }
  return out;
}

}  // namespace livechat::server::redis
