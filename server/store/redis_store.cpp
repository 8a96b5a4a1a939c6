#include "server/store/redis_store.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "server/redis/stream_format.hpp"
#include "wire/id.hpp"

namespace livechat::server::store {
namespace {

// One append takes at most this many messages (one EVAL); more wait for the next one.
constexpr std::size_t k_max_batch = 512;
// A history read fetches entries in chunks of this many...
constexpr std::size_t k_chunk = 500;
// ...and looks at no more than this many for one answer (a rare room in a busy stream).
constexpr std::size_t k_max_scan = 100'000;
// What a store that is not writable writes to see whether Redis takes writes again: a small
// key that expires by itself.
constexpr std::string_view k_probe_key = "livechat:probe";

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

RedisStore::RedisStore(wire::RedisAddress address, RedisStoreOptions options)
    : m_options(options), m_writer(address, options.timeout), m_reader(address, options.timeout) {}

RedisStore::~RedisStore() = default;

std::size_t RedisStore::max_batch() const { return k_max_batch; }

void RedisStore::note(const wire::Result<redis::Value>& outcome, bool write) const {
  std::lock_guard lock(m_health_mutex);
  bool reachable = outcome.ok() || outcome.error().code == "redis_error";
  if (reachable != m_health.reachable) {
    if (reachable) {
      spdlog::info("Redis at {} is reachable again", m_writer.address().text());
    } else {
      spdlog::warn("{}; posts are rejected (503) until it is back", outcome.error().message);
    }
  }
  // Unreachable, it takes no writes either; a write's own outcome says whether it takes them.
  bool writable = reachable && (write ? outcome.ok() : m_health.writable);
  if (reachable && writable != m_health.writable) {
    if (writable) {
      spdlog::info("Redis at {} takes writes again", m_writer.address().text());
    } else {
      spdlog::warn("Redis takes no writes ({}); posts are rejected (503) until it does",
                   outcome.error().message);
    }
  }
  m_health.reachable = reachable;
  m_health.writable = writable;
  if (outcome.ok()) {
    if (writable) {
      m_health.error.clear();
    }
  } else {
    m_health.error = outcome.error().message;
  }
}

StoreHealth RedisStore::health() const {
  std::lock_guard lock(m_health_mutex);
  return m_health;
}

std::optional<MessageStore::Written> RedisStore::write(std::vector<wire::Draft>& drafts) {
  Written written;
  // TODO: edits, deletes, reactions and idempotency keys on Redis; until then a change is
  // refused (501) and a post's key is not remembered.
  std::vector<wire::Draft> posts;
  std::vector<std::size_t> post_of;  // for each draft, its place in `posts`, or npos
  for (auto& draft : drafts) {
    if (draft.kind == wire::EventKind::message) {
      post_of.push_back(posts.size());
      posts.push_back(std::move(draft));
    } else {
      post_of.push_back(std::string::npos);
    }
  }
  auto batch = append(posts);
  if (!batch) {
    return std::nullopt;
  }
  written.stored = std::move(*batch);
  for (std::size_t index : post_of) {
    if (index == std::string::npos) {
      written.answers.emplace_back(
          wire::ApiError{wire::ApiErrorKind::not_implemented,
                         "edits, deletes and reactions are not kept on Redis yet"});
    } else {
      written.answers.emplace_back(index);
    }
  }
  return written;
}

std::optional<MessageStore::Batch> RedisStore::append(std::vector<wire::Draft>& drafts) {
  if (drafts.empty()) {
    if (health().writable) {
      note(m_writer.read({"PING"}));
    } else {
      note(m_writer.command({"SET", std::string(k_probe_key), "1", "PX", "10000"}), true);
    }
    return Batch{};
  }
  std::vector<const wire::Draft*> pointers;
  pointers.reserve(drafts.size());
  for (const auto& draft : drafts) {
    pointers.push_back(&draft);
  }
  auto reply = m_writer.command(redis::append_command(pointers, m_options.max_length));
  note(reply, true);
  if (!reply) {
    // Not retried: Redis may have appended them before the connection broke. The posts get a
    // 503 and their clients send them again.
    spdlog::error("cannot store {} messages: {}", drafts.size(), reply.error().message);
    return std::nullopt;
  }
  auto ids = redis::appended_ids(*reply);
  if (ids.size() != drafts.size()) {
    spdlog::error("Redis appended {} of {} messages", ids.size(), drafts.size());
    return std::nullopt;
  }
  Batch batch;
  batch.reserve(drafts.size());
  for (std::size_t i = 0; i < drafts.size(); ++i) {
    auto stamp = redis::message_stamp(ids[i]);
    if (!stamp) {
      spdlog::error("Redis appended an entry with an unexpected id {}", ids[i]);
      return std::nullopt;
    }
    wire::Message m;
    m.id = std::move(stamp->first);
    m.content = std::move(drafts[i].content);
    m.user = std::move(drafts[i].user);
    m.room = std::move(drafts[i].room);
    m.timestamp = std::move(stamp->second);
    batch.push_back(std::move(m));
  }
  return batch;
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
    std::size_t count = q.room ? k_chunk : std::min(k_chunk, q.limit - out.size());
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
    for (auto& m : redis::read_entries(*reply)) {
      if ((!q.room || m.room == *q.room) && out.size() < q.limit) {
        out.push_back(std::move(m));
      }
    }
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

wire::Result<MessageStore::Batch> RedisStore::recent(std::size_t limit) const {
  HistoryQuery newest;
  newest.limit = limit;
  return query(newest);
}

std::size_t RedisStore::size() const {
  std::lock_guard lock(m_reader_mutex);
  auto reply = m_reader.read({"XLEN", std::string(redis::k_stream_key)});
  note(reply);
  return reply ? static_cast<std::size_t>(std::max(0LL, reply->integer)) : 0;
}

}  // namespace livechat::server::store
