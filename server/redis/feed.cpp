#include "server/redis/feed.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "server/hub/hub.hpp"
#include "server/redis/stream_format.hpp"
#include "wire/id.hpp"

namespace livechat::server::redis {
namespace {

const std::string k_key(redis::k_stream_key);

// Returns the entry id of an XRANGE/XREAD entry ([id, [field, value, ...]]).
const std::string& entry_of(const redis::Value& entry) {
  static const std::string none;
  return entry.items.empty() ? none : entry.items.front().text;
}

}  // namespace

RedisFeed::RedisFeed(const wire::RedisAddress& address, hub::Hub& hub, RedisFeedOptions options)
    : m_hub(hub),
      m_options(options),
      m_reader(address, options.block + options.timeout),
      m_replayer(address, options.timeout) {
  // Joined before the node serves anyone, so no stream it accepts misses a message; if Redis is
  // not there yet, the thread joins once it is (until then streams get a 503).
  auto joined = join_stream();
  if (!joined) {
    std::lock_guard lock(m_mutex);
    m_health.error = joined.error().message;
    spdlog::warn("{}; streams are rejected (503) until it is reachable", m_health.error);
  }
  m_thread = std::thread([this, ok = joined.ok()] { run(ok); });
}

RedisFeed::~RedisFeed() { stop(); }

void RedisFeed::stop() {
  {
    std::lock_guard lock(m_mutex);
    m_stopping = true;
  }
  m_wake.notify_all();
  m_reader.interrupt();
  if (m_thread.joinable()) {
    m_thread.join();
  }
}

StreamHealth RedisFeed::health() const {
  std::lock_guard lock(m_mutex);
  return m_health;
}

wire::Result<bool> RedisFeed::join_stream() {
  // A node delivers what is appended after it starts; older messages reach clients through
  // resume (replay()) and history.
  auto top = m_reader.read({"XREVRANGE", k_key, "+", "-", "COUNT", "1"});
  if (!top) {
    return top.error();
  }
  m_last_entry = top->items.empty() ? "0-0" : entry_of(top->items.front());
  auto stamp = redis::message_stamp(m_last_entry);
  std::string origin = stamp ? stamp->first : wire::format_id(0);
  m_hub.follow_from(origin);
  std::lock_guard lock(m_mutex);
  m_health.following = true;
  m_health.reachable = true;
  m_health.last_id = top->items.empty() ? "" : origin;
  spdlog::info("following the Redis stream {} at {} from {}", k_key, m_reader.address().text(),
               top->items.empty() ? "its start" : origin);
  return true;
}

wire::Result<bool> RedisFeed::read_more() {
  auto reply =
      m_reader.read({"XREAD", "COUNT", std::to_string(m_options.batch), "BLOCK",
                     std::to_string(m_options.block.count()), "STREAMS", k_key, m_last_entry});
  if (!reply) {
    return reply.error();
  }
  // Nil when the block timed out; otherwise [[stream, [entry, ...]]].
  if (reply->items.empty() || reply->items.front().items.size() != 2 ||
      reply->items.front().items[1].items.empty()) {
    return true;
  }
  const auto& entries = reply->items.front().items[1];
  m_last_entry = entry_of(entries.items.back());
  auto messages = redis::read_entries(entries);
  if (messages.empty()) {
    return true;
  }
  {
    std::lock_guard lock(m_mutex);
    m_health.last_id = messages.back().id;
  }
  return m_hub.publish(messages).has_value();
}

void RedisFeed::run(bool joined) {
  wire::Backoff backoff(m_options.backoff);
  for (;;) {
    auto step = joined ? read_more() : join_stream();
    std::unique_lock lock(m_mutex);
    if (m_stopping || (step && !*step)) {
      return;  // stopped, or the hub is shutting down
    }
    if (step) {
      joined = true;
      if (!m_health.error.empty()) {
        spdlog::info("Redis at {} is reachable again", m_reader.address().text());
      }
      m_health.reachable = true;
      m_health.error.clear();
      backoff.reset();
      continue;
    }
    if (m_health.reachable || m_health.error.empty()) {
      spdlog::warn("{}; reading on from {} once it is back", step.error().message,
                   m_health.last_id.empty() ? "where this node joined" : m_health.last_id);
    }
    m_health.reachable = false;
    m_health.error = step.error().message;
    m_wake.wait_for(lock, backoff.next_ceiling(), [&] { return m_stopping; });
  }
}

Replay RedisFeed::replay(const std::string& after, const std::string& upto, std::size_t max) {
  auto from = redis::entry_id(after);
  auto to = redis::entry_id(upto);
  if (!from || !to) {
    return {Replay::Outcome::expired, {}, {}};
  }
  std::lock_guard lock(m_replay_mutex);
  // From the client's own entry, inclusive: finding it proves nothing after it was trimmed.
  auto range = m_replayer.read({"XRANGE", k_key, *from, *to, "COUNT", std::to_string(max + 2)});
  if (!range) {
    return {Replay::Outcome::unavailable, {}, range.error().message};
  }
  auto& entries = range->items;
  if (!entries.empty() && entry_of(entries.front()) == *from) {
    entries.erase(entries.begin());
  } else {
    // Not there: trimmed away (it is older than the stream's first entry), or never a message.
    auto first = m_replayer.read({"XRANGE", k_key, "-", "+", "COUNT", "1"});
    if (!first) {
      return {Replay::Outcome::unavailable, {}, first.error().message};
    }
    auto stamp =
        first->items.empty() ? std::nullopt : redis::message_stamp(entry_of(first->items.front()));
    if (!stamp || after < stamp->first) {
      return {Replay::Outcome::expired, {}, {}};
    }
  }
  return {Replay::Outcome::ok, redis::read_entries(*range), {}};
}

}  // namespace livechat::server::redis
