#include "server/redis/stream_format.hpp"

#include <charconv>
#include <cstdint>

#include "wire/id.hpp"

namespace livechat::server::redis {
namespace {

// Appends drafts (ARGV: max length, then user, room, content per draft) with ids from Redis's
// clock, one microsecond past the newest entry when the clock has not moved on; returns them.
// Lua numbers are doubles: microseconds since 1970 fit them exactly until the year 2255.
constexpr std::string_view k_append_script = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local top = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local last = 0
if #top > 0 then
  local ms, us = string.match(top[1][1], '^(%d+)-(%d+)$')
  last = tonumber(ms) * 1000 + tonumber(us)
end
local ids = {}
for i = 2, #ARGV, 3 do
  if now <= last then now = last + 1 end
  last = now
  local id = string.format('%d-%d', math.floor(now / 1000), now % 1000)
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], id,
             'user', ARGV[i], 'room', ARGV[i + 1], 'content', ARGV[i + 2])
  ids[#ids + 1] = id
end
return ids
)lua";

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
    const auto& fields = entry.items[1].items;
    for (std::size_t i = 0; i + 1 < fields.size(); i += 2) {
      const std::string& name = fields[i].text;
      if (name == "user") {
        message.user = fields[i + 1].text;
      } else if (name == "room") {
        message.room = fields[i + 1].text;
      } else if (name == "content") {
        message.content = fields[i + 1].text;
      }
    }
    if (!message.room.empty()) {
      out.push_back(std::move(message));
    }
  }
  return out;
}

std::vector<std::string> append_command(const std::vector<const wire::Draft*>& drafts,
                                        std::size_t max_length) {
  std::vector<std::string> args = {"EVAL", std::string(k_append_script), "1",
                                   std::string(k_stream_key), std::to_string(max_length)};
  args.reserve(args.size() + 3 * drafts.size());
  for (const auto* draft : drafts) {
    args.push_back(draft->user);
    args.push_back(draft->room);
    args.push_back(draft->content);
  }
  return args;
}

std::vector<std::string> appended_ids(const Value& reply) {
  std::vector<std::string> ids;
  for (const auto& item : reply.items) {
    ids.push_back(item.text);
  }
  return ids;
}

}  // namespace livechat::server::redis
