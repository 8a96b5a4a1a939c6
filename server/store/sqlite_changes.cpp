#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>

#include "server/store/sqlite.hpp"
#include "server/store/sqlite_rows.hpp"
#include "server/store/sqlite_store.hpp"

// The SQLite store's events beyond a post: edits, deletes and reactions, which check the
// message they change and are kept in `changes`; and posts with an Idempotency-Key.

namespace livechat::server::store {
namespace {

// Resets a statement once its step is read, also when reading it throws.
class Using {
 public:
  explicit Using(sqlite::Statement& statement) : m_statement(statement) {}
  ~Using() { m_statement.reset(); }
  Using(const Using&) = delete;
  Using& operator=(const Using&) = delete;

 private:
  sqlite::Statement& m_statement;
};

constexpr std::int64_t k_micros_per_second = 1'000'000;
constexpr std::int64_t k_key_window =
    std::chrono::duration_cast<std::chrono::seconds>(k_idempotency_window).count() *
    k_micros_per_second;
// Expired keys are swept at most this often; a lookup ignores them meanwhile.
constexpr std::int64_t k_key_sweep = 60 * k_micros_per_second;

wire::ApiError refused(wire::ApiErrorKind kind, std::string message) {
  return {kind, std::move(message)};
}

}  // namespace

namespace sqlite {

wire::Message read_message(const Statement& row) {
  wire::Message m;
  m.id = row.text(0);
  m.content = row.text(1);
  m.user = row.text(2);
  m.room = row.text(3);
  m.timestamp = row.text(4);
  m.edited = row.text(5);
  return m;
}

wire::EventKind change_kind(const std::string& type) {
  if (type == "edit") {
    return wire::EventKind::edit;
  }
  return type == "delete" ? wire::EventKind::deletion : wire::EventKind::reaction;
}

wire::Message read_change(const Statement& row) {
  wire::Message m;
  m.id = row.text(0);
  m.kind = change_kind(row.text(1));
  m.message_id = row.text(2);
  m.user = row.text(3);
  m.room = row.text(4);
  m.content = row.text(5);
  m.emoji = row.text(6);
  m.removed = row.integer(7) != 0;
  m.timestamp = row.text(8);
  return m;
}

void add_reactions(Database& db, std::vector<wire::Message>& messages) {
  if (messages.empty()) {
    return;
  }
  Statement select(db,
                   "SELECT message_id, emoji, user FROM reactions WHERE message_id >= ?1 AND "
                   "message_id <= ?2 ORDER BY message_id, id");
  select.bind(1, messages.front().id).bind(2, messages.back().id);
  auto it = messages.begin();
  while (select.step()) {
    const std::string id = select.text(0);
    it =
        std::lower_bound(it, messages.end(), id,
                         [](const wire::Message& m, const std::string& key) { return m.id < key; });
    if (it == messages.end()) {
      break;
    }
    if (it->id != id) {
      continue;  // a message of the range that this answer leaves out (another room)
    }
    std::string emoji = select.text(1);
    auto reaction = std::find_if(it->reactions.begin(), it->reactions.end(),
                                 [&](const wire::Reaction& r) { return r.emoji == emoji; });
    if (reaction == it->reactions.end()) {
      it->reactions.push_back({std::move(emoji), {}});
      reaction = std::prev(it->reactions.end());
    }
    reaction->users.push_back(select.text(2));
  }
}

}  // namespace sqlite

MessageStore::Answer SqliteStore::apply(wire::Draft& draft, Batch& batch) {
  return draft.kind == wire::EventKind::message ? post(draft, batch) : change(draft, batch);
}

MessageStore::Answer SqliteStore::post(wire::Draft& draft, Batch& batch) {
  const bool keyed = !draft.idempotency_key.empty();
  if (keyed) {
    Using use(*m_find_key);
    m_find_key->bind(1, draft.user)
        .bind(2, draft.idempotency_key)
        .bind(3, m_clock() - k_key_window);
    if (m_find_key->step()) {
      if (m_find_key->text(0) != draft.fingerprint) {
        return refused(wire::ApiErrorKind::idempotency_key_reused,
                       "this Idempotency-Key was used for another message in the last 24 hours; "
                       "send a new key with a new message");
      }
      auto first = wire::parse_message_json(m_find_key->text(1));
      if (first) {
        return std::move(*first);  // the first answer again; nothing is stored
      }
      spdlog::warn("the first answer kept for an Idempotency-Key does not read back: {}",
                   first.error().message);
    }
  }
  auto stamp = m_ids.next();
  wire::Message m;
  m.id = std::move(stamp.id);
  m.content = std::move(draft.content);
  m.user = std::move(draft.user);
  m.room = std::move(draft.room);
  m.timestamp = std::move(stamp.timestamp);
  {
    Using use(*m_insert);
    m_insert->bind(1, m.id).bind(2, m.content).bind(3, m.user).bind(4, m.room).bind(5, m.timestamp);
    m_insert->step();
  }
  if (keyed) {
    Using use(*m_add_key);
    m_add_key->bind(1, m.user)
        .bind(2, draft.idempotency_key)
        .bind(3, draft.fingerprint)
        .bind(4, wire::stored_json(m))
        .bind(5, m_clock());
    m_add_key->step();
  }
  batch.push_back(std::move(m));
  return batch.size() - 1;
}

MessageStore::Answer SqliteStore::change(wire::Draft& draft, Batch& batch) {
  std::string author;
  std::string room;
  {
    Using use(*m_find);
    m_find->bind(1, draft.message_id);
    if (!m_find->step()) {
      return refused(wire::ApiErrorKind::not_found, "no message has the id " + draft.message_id);
    }
    author = m_find->text(0);
    room = m_find->text(1);
    if (m_find->integer(2) != 0) {
      return refused(wire::ApiErrorKind::gone, "message " + draft.message_id + " was deleted");
    }
  }
  if (draft.kind != wire::EventKind::reaction && author != draft.user) {
    return refused(
        wire::ApiErrorKind::not_author,
        "only " + author + ", who posted message " + draft.message_id + ", may edit or delete it");
  }
  if (draft.kind == wire::EventKind::reaction) {
    bool has = false;
    {
      Using use(*m_has_reaction);
      m_has_reaction->bind(1, draft.message_id).bind(2, draft.emoji).bind(3, draft.user);
      has = m_has_reaction->step();
    }
    if (has != draft.removed) {
      return state(draft.message_id);  // already so: nothing changes, nothing is stored
    }
  }
  auto stamp = m_ids.next();
  {
    Using use(*m_add_change);
    m_add_change->bind(1, stamp.id)
        .bind(2, wire::event_name(draft.kind))
        .bind(3, draft.message_id)
        .bind(4, draft.user)
        .bind(5, room)
        .bind(6, draft.content)
        .bind(7, draft.emoji)
        .bind(8, std::int64_t{draft.removed ? 1 : 0})
        .bind(9, stamp.timestamp);
    m_add_change->step();
  }
  sqlite::Statement& apply = draft.kind == wire::EventKind::edit       ? *m_edit
                             : draft.kind == wire::EventKind::deletion ? *m_delete
                             : draft.removed                           ? *m_unreact
                                                                       : *m_react;
  {
    Using use(apply);
    apply.bind(1, draft.message_id);
    if (draft.kind == wire::EventKind::edit) {
      apply.bind(2, draft.content).bind(3, stamp.timestamp);
    } else if (draft.kind == wire::EventKind::reaction) {
      apply.bind(2, draft.emoji).bind(3, draft.user);
      if (!draft.removed) {
        apply.bind(4, stamp.id);
      }
    }
    apply.step();
  }
  wire::Message event;
  event.id = std::move(stamp.id);
  event.kind = draft.kind;
  event.message_id = draft.message_id;
  event.user = std::move(draft.user);
  event.room = std::move(room);
  event.content = std::move(draft.content);
  event.emoji = std::move(draft.emoji);
  event.removed = draft.removed;
  event.timestamp = std::move(stamp.timestamp);
  batch.push_back(std::move(event));
  if (draft.kind == wire::EventKind::deletion) {
    wire::Message deleted;
    deleted.id = draft.message_id;
    deleted.kind = wire::EventKind::deletion;
    return deleted;
  }
  return state(draft.message_id);
}

wire::Message SqliteStore::state(const std::string& id) {
  sqlite::Statement select(
      *m_db, std::string("SELECT ") + sqlite::k_message_columns + " FROM messages WHERE id = ?1");
  select.bind(1, id);
  std::vector<wire::Message> one;
  if (select.step()) {
    one.push_back(sqlite::read_message(select));
  }
  if (one.empty()) {
    throw sqlite::Error("message " + id + " is gone from its own transaction");
  }
  sqlite::add_reactions(*m_db, one);
  return std::move(one.front());
}

bool SqliteStore::keys_due() const { return m_clock() - m_keys_expired_at >= k_key_sweep; }

void SqliteStore::expire_keys() {
  const std::int64_t now = m_clock();
  m_keys_expired_at = now;
  Using use(*m_expire_keys);
  m_expire_keys->bind(1, now - k_key_window);
  m_expire_keys->step();
}

}  // namespace livechat::server::store
