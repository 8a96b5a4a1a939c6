#include "server/store/redis_store.hpp"

#include <spdlog/spdlog.h>

#include "server/redis/stream_append.hpp"
#include "server/redis/stream_format.hpp"

// The Redis store's writes: posts and changes, checked and appended by one script (see
// server/redis/stream_append.hpp), and its health.

namespace livechat::server::store {
namespace {

// One append takes at most this many drafts (one EVAL); more wait for the next one.
constexpr std::size_t k_max_batch = 512;
// What a store that is not writable writes to see whether Redis takes writes again: a small
// key that expires by itself.
constexpr std::string_view k_probe_key = "livechat:probe";

wire::ApiError refused(wire::ApiErrorKind kind, std::string message) {
  return {kind, std::move(message)};
}

// Returns a change's message in its state after the change, as the script read it.
std::optional<wire::Message> state_of(const wire::Draft& draft, redis::Appended& appended) {
  auto entry = redis::entry_id(draft.message_id);
  auto stamp = entry ? redis::message_stamp(*entry) : std::nullopt;
  if (!stamp) {
    return std::nullopt;
  }
  wire::Message m;
  m.id = std::move(stamp->first);
  m.timestamp = std::move(stamp->second);
  m.user = std::move(appended.user);
  m.room = std::move(appended.room);
  m.content = std::move(appended.content);
  redis::apply_state(appended.state, m);
  return m;
}

// Adds how a draft is answered, from what the script did with it, to `written` (with what it
// appended); returns false if an entry id is not one livechat writes.
bool add_answer(wire::Draft& draft, redis::Appended& appended, MessageStore::Written& written) {
  using Outcome = redis::Appended::Outcome;
  auto& answers = written.answers;
  switch (appended.outcome) {
    case Outcome::not_found:
      answers.emplace_back(
          refused(wire::ApiErrorKind::not_found, "no message has the id " + draft.message_id));
      return true;
    case Outcome::gone:
      answers.emplace_back(
          refused(wire::ApiErrorKind::gone, "message " + draft.message_id + " was deleted"));
      return true;
    case Outcome::not_author:
      answers.emplace_back(refused(wire::ApiErrorKind::not_author,
                                   "only " + appended.user + ", who posted message " +
                                       draft.message_id + ", may edit or delete it"));
      return true;
    case Outcome::key_reused:
      answers.emplace_back(refused(
          wire::ApiErrorKind::idempotency_key_reused,
          "this Idempotency-Key was used for another message in the last 24 hours; send a new "
          "key with a new message"));
      return true;
    case Outcome::unchanged: {
      auto state = state_of(draft, appended);
      if (!state) {
        return false;
      }
      answers.emplace_back(std::move(*state));  // already so: nothing changes, nothing is stored
      return true;
    }
    case Outcome::repeat:
    case Outcome::stored:
      break;
  }
  auto stamp = redis::message_stamp(appended.entry);
  if (!stamp) {
    return false;
  }
  wire::Message m;
  m.id = std::move(stamp->first);
  m.timestamp = std::move(stamp->second);
  m.user = std::move(draft.user);
  m.room = std::move(draft.room);
  m.content = std::move(draft.content);
  if (appended.outcome == Outcome::repeat) {
    // The first answer again, as the first post was stored. Its request had the same room and
    // content (the same fingerprint), which stand in for it if the stream was trimmed since.
    if (!appended.room.empty()) {
      m.user = std::move(appended.user);
      m.room = std::move(appended.room);
      m.content = std::move(appended.content);
    }
    answers.emplace_back(std::move(m));
    return true;
  }
  auto& stored = written.stored;
  if (draft.kind == wire::EventKind::message) {
    stored.push_back(std::move(m));
    answers.emplace_back(stored.size() - 1);
    return true;
  }
  auto state = state_of(draft, appended);
  if (!state) {
    return false;
  }
  m.kind = draft.kind;
  m.message_id = draft.message_id;
  m.room = state->room;
  m.emoji = std::move(draft.emoji);
  m.removed = draft.removed;
  if (draft.kind == wire::EventKind::deletion) {
    m.content.clear();
    state = wire::Message{};
    state->id = draft.message_id;
    state->kind = wire::EventKind::deletion;
  }
  stored.push_back(std::move(m));
  answers.emplace_back(std::move(*state));
  return true;
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
  if (drafts.empty()) {
    if (health().writable) {
      note(m_writer.read({"PING"}));
    } else {
      note(m_writer.command({"SET", std::string(k_probe_key), "1", "PX", "10000"}), true);
    }
    return Written{};
  }
  auto reply = m_writer.command(redis::append_command(
      drafts, m_options.max_length,
      std::chrono::duration_cast<std::chrono::seconds>(k_idempotency_window)));
  note(reply, true);
  if (!reply) {
    // Not retried: Redis may have appended them before the connection broke. The drafts get a
    // 503 and their clients send them again (a keyed post is then answered as a repeat).
    spdlog::error("cannot store {} events: {}", drafts.size(), reply.error().message);
    return std::nullopt;
  }
  auto appended = redis::read_appended(*reply);
  if (appended.size() != drafts.size()) {
    spdlog::error("Redis answered {} of {} events", appended.size(), drafts.size());
    return std::nullopt;
  }
  Written written;
  written.answers.reserve(drafts.size());
  for (std::size_t i = 0; i < drafts.size(); ++i) {
    if (!add_answer(drafts[i], appended[i], written)) {
      spdlog::error("Redis appended an entry with an unexpected id {}", appended[i].entry);
      return std::nullopt;
    }
  }
  return written;
}

}  // namespace livechat::server::store
