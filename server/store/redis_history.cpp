#include <algorithm>

#include "server/redis/stream_append.hpp"
#include "server/redis/stream_format.hpp"
#include "server/store/redis_store.hpp"
#include "wire/id.hpp"

// The Redis store's reads: history, with each message in its current state, and the newest
// events of the stream.

namespace livechat::server::store {
namespace {

// A history read fetches entries in chunks of at most this many...
constexpr std::size_t k_chunk = 500;
// ...and looks at no more than this many for one answer (a rare room in a busy stream).
constexpr std::size_t k_max_scan = 100'000;
// Without a room, a chunk holds this many entries past those still wanted, for the changes
// and deleted messages among them.
constexpr std::size_t k_spare = 16;

// Returns the inclusive stream bound just after (or before) a history cursor; text that is
// not a message id stands for the stream's start ("0" sorts before every id) or end ("~").
std::string bound(const std::string& id, bool after) {
  auto entry = redis::entry_id(id);
  if (!entry) {
    return id < wire::format_id(0) ? "-" : "+";
  }
  auto next = after ? redis::next_entry(*entry) : redis::previous_entry(*entry);
  return next ? *next : (after ? "+" : "-");
}

}  // namespace

wire::Result<MessageStore::Batch> RedisStore::current(Batch candidates, std::size_t want) const {
  Batch out;
  std::size_t next = 0;  // candidates before it were looked at
  while (out.size() < want && next < candidates.size()) {
    // As many as are still wanted: more are looked at only for those that were deleted.
    const std::size_t take = std::min(candidates.size() - next, want - out.size());
    std::vector<std::string> entries;
    for (std::size_t i = next; i < next + take; ++i) {
      entries.push_back(redis::entry_id(candidates[i].id).value_or("0-0"));
    }
    auto reply = m_reader.read(redis::state_command(entries));
    note(reply);
    if (!reply) {
      return reply.error();
    }
    for (std::size_t i = 0; i < take; ++i) {
      auto& m = candidates[next + i];
      if (i >= reply->items.size() || redis::apply_state(reply->items[i], m)) {
        out.push_back(std::move(m));
      }
    }
    next += take;
  }
  return out;
}

wire::Result<MessageStore::Batch> RedisStore::query(const HistoryQuery& q) const {
  // After a cursor: forwards from it; otherwise backwards from the newest (or `before`).
  const bool forward = q.after.has_value();
  std::string from = forward ? bound(*q.after, true) : (q.before ? bound(*q.before, false) : "+");
  std::string to = forward ? (q.before ? bound(*q.before, false) : "+") : "-";
  if ((forward && (from == "+" || to == "-")) || (!forward && from == "-")) {
    return Batch{};
  }
  Batch out;
  std::size_t scanned = 0;
  std::lock_guard lock(m_reader_mutex);
  while (out.size() < q.limit && scanned < k_max_scan) {
    // Change entries and deleted messages take up room in a chunk and are left out of it.
    std::size_t count = q.room ? k_chunk : std::min(k_chunk, q.limit - out.size() + k_spare);
    auto reply = m_reader.read({forward ? "XRANGE" : "XREVRANGE", std::string(redis::k_stream_key),
                                from, to, "COUNT", std::to_string(count)});
    note(reply);
    if (!reply) {
      return reply.error();
    }
    if (reply->items.empty()) {
      break;
    }
    scanned += reply->items.size();
    const auto& last = reply->items.back();
    const std::string last_entry = last.items.empty() ? std::string() : last.items.front().text;
    Batch candidates;
    for (auto& m : redis::read_entries(*reply)) {
      if (m.kind == wire::EventKind::message && (!q.room || m.room == *q.room)) {
        candidates.push_back(std::move(m));
      }
    }
    auto kept = current(std::move(candidates), q.limit - out.size());
    if (!kept) {
      return kept.error();
    }
    std::move(kept->begin(), kept->end(), std::back_inserter(out));
    auto next = forward ? redis::next_entry(last_entry) : redis::previous_entry(last_entry);
    if (reply->items.size() < count || !next) {
      break;
    }
    from = *next;
  }
  if (!forward) {
    std::reverse(out.begin(), out.end());
  }
  return out;
}

wire::Result<MessageStore::Batch> RedisStore::recent(std::size_t limit,
                                                     const std::string& before) const {
  const std::string from = before.empty() ? "+" : bound(before, false);
  if (from == "-") {
    return Batch{};
  }
  std::lock_guard lock(m_reader_mutex);
  auto reply = m_reader.read(
      {"XREVRANGE", std::string(redis::k_stream_key), from, "-", "COUNT", std::to_string(limit)});
  note(reply);
  if (!reply) {
    return reply.error();
  }
  auto events = redis::read_entries(*reply);
  std::reverse(events.begin(), events.end());
  return events;
}

std::size_t RedisStore::size() const {
  std::lock_guard lock(m_reader_mutex);
  auto reply = m_reader.read({"XLEN", std::string(redis::k_stream_key)});
  note(reply);
  return reply ? static_cast<std::size_t>(std::max(0LL, reply->integer)) : 0;
}

}  // namespace livechat::server::store
