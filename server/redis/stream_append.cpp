#include "server/redis/stream_append.hpp"

#include <algorithm>
#include <tuple>
#include <utility>

#include "server/redis/stream_format.hpp"

namespace livechat::server::redis {
namespace {

// Appends drafts with ids from Redis's clock, one microsecond past the newest entry when the
// clock has not moved on. KEYS: the stream, the changed messages. ARGV: max length, state key
// prefix, key lifetime in seconds, then per draft: type, user, room, content, the entry id of
// the message it changes, that message's id, emoji, action, Idempotency-Key's key, fingerprint.
// Answers per draft: {'stored', id} for a post, {'repeat', id[, user, room, content]},
// {word} for a refusal, or for a change {'stored' or 'unchanged', id, author, room, content,
// state hash}; then forgets the state of a few messages the stream was trimmed past. Lua
// numbers (and sorted set scores) are doubles: microseconds since 1970 fit them until 2255.
constexpr std::string_view k_append_script = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local top = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local last = 0
if #top > 0 then
  local ms, us = string.match(top[1][1], '^(%d+)-(%d+)$')
  last = tonumber(ms) * 1000 + tonumber(us)
end
local function append(fields)
  if now <= last then now = last + 1 end
  last = now
  local id = string.format('%d-%d', math.floor(now / 1000), now % 1000)
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], id, unpack(fields))
  return id
end
local function entry_of(id)
  local found = redis.call('XRANGE', KEYS[1], id, id)
  if #found ~= 1 then return nil end
  local f = {}
  for i = 1, #found[1][2], 2 do f[found[1][2][i]] = found[1][2][i + 1] end
  return f
end
local function score(id)
  local ms, us = string.match(id, '^(%d+)-(%d+)$')
  return ms .. string.format('%03d', tonumber(us))
end
local out = {}
for i = 4, #ARGV, 10 do
  local kind, user, room, content = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local target, target_id, emoji, action = ARGV[i + 4], ARGV[i + 5], ARGV[i + 6], ARGV[i + 7]
  local key, fingerprint = ARGV[i + 8], ARGV[i + 9]
  if kind == 'message' then
    local seen = key ~= '' and redis.call('GET', key)
    if seen then
      local first, was = string.match(seen, '^(%S+) (.*)$')
      local f = first and was == fingerprint and entry_of(first)
      if not first or was ~= fingerprint then
        out[#out + 1] = {'key_reused'}
      elseif f then
        out[#out + 1] = {'repeat', first, f.user or '', f.room or '', f.content or ''}
      else
        out[#out + 1] = {'repeat', first}
      end
    else
      local id = append({'user', user, 'room', room, 'content', content})
      if key ~= '' then redis.call('SET', key, id .. ' ' .. fingerprint, 'EX', ARGV[3]) end
      out[#out + 1] = {'stored', id}
    end
  else
    local f = target ~= '' and entry_of(target)
    local state = ARGV[2] .. target
    if not f or (f.type and f.type ~= 'message') then
      out[#out + 1] = {'not_found'}
    elseif redis.call('HEXISTS', state, 'deleted') == 1 then
      out[#out + 1] = {'gone'}
    elseif kind ~= 'reaction' and f.user ~= user then
      out[#out + 1] = {'not_author', f.user or ''}
    else
      local field = 'r:' .. emoji .. ' ' .. user
      local word, id = 'stored', ''
      if kind == 'reaction' and
          (redis.call('HEXISTS', state, field) == 1) == (action == 'add') then
        word = 'unchanged'
      else
        local fields = {'type', kind, 'user', user, 'room', f.room or '', 'message_id', target_id}
        if kind == 'edit' then
          fields[#fields + 1] = 'content'
          fields[#fields + 1] = content
        elseif kind == 'reaction' then
          fields[#fields + 1] = 'emoji'
          fields[#fields + 1] = emoji
          fields[#fields + 1] = 'action'
          fields[#fields + 1] = action
        end
        id = append(fields)
        if kind == 'edit' then
          redis.call('HSET', state, 'content', content, 'edited', id)
        elseif kind == 'delete' then
          redis.call('HSET', state, 'deleted', '1')
        elseif action == 'add' then
          redis.call('HSET', state, field, id)
        else
          redis.call('HDEL', state, field)
        end
        redis.call('ZADD', KEYS[2], score(target), target)
      end
      out[#out + 1] = {word, id, f.user or '', f.room or '', f.content or '',
                       redis.call('HGETALL', state)}
    end
  end
end
local head = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)
if #head == 1 then
  local old = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. score(head[1][1]),
                         'LIMIT', 0, 16)
  for _, id in ipairs(old) do redis.call('DEL', ARGV[2] .. id) end
  if #old > 0 then redis.call('ZREM', KEYS[2], unpack(old)) end
end
return out
)lua";

// Reads the state hashes of messages. ARGV: the state key prefix, then entry ids.
constexpr std::string_view k_state_script = R"lua(
local out = {}
for i = 2, #ARGV do out[#out + 1] = redis.call('HGETALL', ARGV[1] .. ARGV[i]) end
return out
)lua";

constexpr std::string_view k_idempotency_prefix = "livechat:idempotency:";
constexpr std::string_view k_reaction_prefix = "r:";

std::optional<Appended::Outcome> outcome_of(std::string_view word) {
  using O = Appended::Outcome;
  static constexpr std::pair<std::string_view, O> k_words[] = {
      {"stored", O::stored},         {"repeat", O::repeat}, {"unchanged", O::unchanged},
      {"not_found", O::not_found},   {"gone", O::gone},     {"not_author", O::not_author},
      {"key_reused", O::key_reused},
  };
  for (const auto& [name, outcome] : k_words) {
    if (word == name) {
      return outcome;
    }
  }
  return std::nullopt;
}

}  // namespace

std::string idempotency_key(std::string_view user, std::string_view key) {
  // The user's length first: a user may have a ':' in it, a key too.
  return std::string(k_idempotency_prefix) + std::to_string(user.size()) + ":" + std::string(user) +
         ":" + std::string(key);
}

std::vector<std::string> append_command(const std::vector<wire::Draft>& drafts,
                                        std::size_t max_length, std::chrono::seconds key_window) {
  std::vector<std::string> args = {"EVAL",
                                   std::string(k_append_script),
                                   "2",
                                   std::string(k_stream_key),
                                   std::string(k_changed_key),
                                   std::to_string(max_length),
                                   std::string(k_state_prefix),
                                   std::to_string(key_window.count())};
  args.reserve(args.size() + 10 * drafts.size());
  for (const auto& draft : drafts) {
    const bool post = draft.kind == wire::EventKind::message;
    args.emplace_back(wire::event_name(draft.kind));
    args.push_back(draft.user);
    args.push_back(draft.room);
    args.push_back(draft.content);
    args.push_back(post ? std::string() : entry_id(draft.message_id).value_or(""));
    args.push_back(draft.message_id);
    args.push_back(draft.emoji);
    args.emplace_back(draft.removed ? "remove" : "add");
    args.push_back(post && !draft.idempotency_key.empty()
                       ? idempotency_key(draft.user, draft.idempotency_key)
                       : std::string());
    args.push_back(draft.fingerprint);
  }
  return args;
}

std::vector<Appended> read_appended(const Value& reply) {
  std::vector<Appended> out;
  out.reserve(reply.items.size());
  for (const auto& item : reply.items) {
    const auto& parts = item.items;
    auto outcome = parts.empty() ? std::nullopt : outcome_of(parts[0].text);
    if (!outcome) {
      break;
    }
    Appended appended;
    appended.outcome = *outcome;
    auto text = [&parts](std::size_t i) { return i < parts.size() ? parts[i].text : ""; };
    const bool refused = *outcome == Appended::Outcome::not_author;
    appended.entry = refused ? std::string() : text(1);
    appended.user = text(refused ? 1 : 2);
    appended.room = text(3);
    appended.content = text(4);
    if (parts.size() > 5) {
      appended.state = parts[5];
    }
    out.push_back(std::move(appended));
  }
  return out;
}

std::vector<std::string> state_command(const std::vector<std::string>& entries) {
  std::vector<std::string> args = {"EVAL", std::string(k_state_script), "0",
                                   std::string(k_state_prefix)};
  args.insert(args.end(), entries.begin(), entries.end());
  return args;
}

bool apply_state(const Value& state, wire::Message& message) {
  // (the reaction's id, emoji, user), to sort by when each was made
  std::vector<std::tuple<std::string, std::string, std::string>> reactions;
  const auto& fields = state.items;
  for (std::size_t i = 0; i + 1 < fields.size(); i += 2) {
    const std::string& name = fields[i].text;
    const std::string& value = fields[i + 1].text;
    if (name == "deleted") {
      return false;
    }
    if (name == "content") {
      message.content = value;
    } else if (name == "edited") {
      auto stamp = message_stamp(value);
      message.edited = stamp ? stamp->second : std::string();
    } else if (name.rfind(k_reaction_prefix, 0) == 0) {
      auto space = name.find(' ', k_reaction_prefix.size());
      auto stamp = message_stamp(value);
      if (space != std::string::npos && stamp) {
        reactions.emplace_back(
            stamp->first, name.substr(k_reaction_prefix.size(), space - k_reaction_prefix.size()),
            name.substr(space + 1));
      }
    }
  }
  std::sort(reactions.begin(), reactions.end());
  message.reactions.clear();
  for (auto& [id, emoji, user] : reactions) {
    auto it = std::find_if(message.reactions.begin(), message.reactions.end(),
                           [&emoji = emoji](const wire::Reaction& r) { return r.emoji == emoji; });
    if (it == message.reactions.end()) {
      message.reactions.push_back({std::move(emoji), {}});
      it = std::prev(message.reactions.end());
    }
    it->users.push_back(std::move(user));
  }
  return true;
}

}  // namespace livechat::server::redis
