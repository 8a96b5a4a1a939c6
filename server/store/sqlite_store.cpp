#include "server/store/sqlite_store.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <functional>
#include <string_view>

#include "server/store/sqlite.hpp"
#include "server/store/sqlite_rows.hpp"

namespace livechat::server::store {
namespace {

// One commit takes at most this many messages; more wait for the next one.
constexpr std::size_t k_max_batch = 1024;
// While the database takes no writes, a probe commit is tried this often, so that health
// recovers by itself once the disk has room again, without waiting for a post...
constexpr std::chrono::milliseconds k_probe_interval{1000};
// ...writing a row this big: as much as the largest post by default (64 KiB of content), so
// that it passes only where a post would pass too.
constexpr std::int64_t k_probe_bytes = 64 * 1024;
// A commit that has waited longer (for a lock another process holds, or a slow disk) makes
// the store not writable for health until it is done.
constexpr std::chrono::milliseconds k_max_commit_wait{1000};

constexpr const char* k_schema = R"sql(
  CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    content TEXT NOT NULL,
    user TEXT NOT NULL,
    room TEXT NOT NULL,
    timestamp TEXT NOT NULL
  );
  CREATE INDEX IF NOT EXISTS messages_room_id ON messages (room, id);
  CREATE TABLE IF NOT EXISTS outbox (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    delivered_id TEXT NOT NULL
  );
  INSERT OR IGNORE INTO outbox (one, delivered_id) VALUES (1, '');
  CREATE TABLE IF NOT EXISTS probe (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    data BLOB NOT NULL
  );
)sql";

// The schema's versions after the first (PRAGMA user_version), each what it adds; a database
// is brought up to the last one when it opens.
constexpr std::array<const char*, 1> k_migrations = {
    // 1: edits, deletes and reactions, and idempotency keys.
    R"sql(
  ALTER TABLE messages ADD COLUMN edited TEXT NOT NULL DEFAULT '';
  ALTER TABLE messages ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;
  CREATE TABLE changes (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    message_id TEXT NOT NULL,
    user TEXT NOT NULL,
    room TEXT NOT NULL,
    content TEXT NOT NULL,
    emoji TEXT NOT NULL,
    removed INTEGER NOT NULL,
    timestamp TEXT NOT NULL
  );
  CREATE TABLE reactions (
    message_id TEXT NOT NULL,
    emoji TEXT NOT NULL,
    user TEXT NOT NULL,
    id TEXT NOT NULL,
    PRIMARY KEY (message_id, emoji, user)
  );
  CREATE INDEX reactions_message_id ON reactions (message_id, id);
  CREATE TABLE idempotency_keys (
    user TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    answer TEXT NOT NULL,
    created INTEGER NOT NULL,
    PRIMARY KEY (user, key)
  );
  CREATE INDEX idempotency_keys_created ON idempotency_keys (created);
)sql",
};

using sqlite::k_change_columns;
using sqlite::k_message_columns;

// Reads the events of both tables, messages (as they are now) and changes, that `tail` (what
// follows FROM, its parameters bound by `bind`) selects from each, merged by id.
MessageStore::Batch read_log(sqlite::Database& db, const std::string& tail,
                             const std::function<void(sqlite::Statement&)>& bind) {
  MessageStore::Batch out;
  for (const bool changes : {false, true}) {
    sqlite::Statement select(db, std::string("SELECT ") +
                                     (changes ? k_change_columns : k_message_columns) + " FROM " +
                                     (changes ? "changes " : "messages ") + tail);
    bind(select);
    while (select.step()) {
      out.push_back(changes ? sqlite::read_change(select) : sqlite::read_message(select));
      out.back().edited.clear();
    }
  }
  std::sort(out.begin(), out.end(),
            [](const wire::Message& a, const wire::Message& b) { return a.id < b.id; });
  return out;
}

}  // namespace

SqliteStore::SqliteStore(const std::string& path, wire::IdGenerator::Clock clock)
    : m_clock(clock), m_ids(std::move(clock)) {
  m_db = std::make_unique<sqlite::Database>(path);
  bool memory = path == ":memory:" || path.empty();
  // Checks that the file is a database at all before changing anything.
  m_db->scalar("SELECT count(*) FROM sqlite_master");
  if (!memory) {
    std::string mode = m_db->scalar("PRAGMA journal_mode = WAL");
    if (mode != "wal") {
      throw sqlite::Error("cannot switch the database to WAL mode (it is in " + mode + " mode)");
    }
  }
  // FULL: a commit reaches the disk before the message is acknowledged.
  m_db->exec("PRAGMA synchronous = FULL");
  m_db->exec(k_schema);
  migrate();
  if (memory) {
    m_read_db = m_db.get();
  } else {
    m_reader = std::make_unique<sqlite::Database>(path);
    m_read_db = m_reader.get();
  }
  // Ids go on after the newest stored one, also when the clock went back since.
  m_ids.observe(m_db->scalar(
      "SELECT coalesce(max(id), '') FROM (SELECT max(id) AS id FROM messages UNION ALL "
      "SELECT max(id) FROM changes)"));
  m_count = static_cast<std::size_t>(std::stoull(m_db->scalar("SELECT count(*) FROM messages")));
  m_forwarded = m_forwarded_target = m_db->scalar("SELECT delivered_id FROM outbox");
  m_insert = std::make_unique<sqlite::Statement>(
      *m_db,
      "INSERT INTO messages (id, content, user, room, timestamp) VALUES (?1, ?2, ?3, ?4, ?5)");
  m_mark = std::make_unique<sqlite::Statement>(*m_db,
                                               "UPDATE outbox SET delivered_id = ?1 WHERE one = 1");
  m_probe = std::make_unique<sqlite::Statement>(
      *m_db, "INSERT OR REPLACE INTO probe (one, data) VALUES (1, randomblob(?1))");
  auto prepare = [this](const char* sql) {
    return std::make_unique<sqlite::Statement>(*m_db, sql);
  };
  m_find = prepare("SELECT user, room, deleted FROM messages WHERE id = ?1");
  m_add_change = prepare(
      "INSERT INTO changes (id, type, message_id, user, room, content, emoji, removed, timestamp) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
  m_edit = prepare("UPDATE messages SET content = ?2, edited = ?3 WHERE id = ?1");
  m_delete = prepare("UPDATE messages SET deleted = 1 WHERE id = ?1");
  m_has_reaction =
      prepare("SELECT 1 FROM reactions WHERE message_id = ?1 AND emoji = ?2 AND user = ?3");
  m_react = prepare("INSERT INTO reactions (message_id, emoji, user, id) VALUES (?1, ?2, ?3, ?4)");
  m_unreact = prepare("DELETE FROM reactions WHERE message_id = ?1 AND emoji = ?2 AND user = ?3");
  m_find_key = prepare(
      "SELECT fingerprint, answer FROM idempotency_keys WHERE user = ?1 AND key = ?2 AND "
      "created >= ?3");
  m_add_key = prepare(
      "INSERT OR REPLACE INTO idempotency_keys (user, key, fingerprint, answer, created) "
      "VALUES (?1, ?2, ?3, ?4, ?5)");
  m_expire_keys = prepare("DELETE FROM idempotency_keys WHERE created < ?1");
}

void SqliteStore::migrate() {
  // Read within the transaction: of two processes opening an old file at once, the second
  // finds it migrated.
  sqlite::Transaction transaction(*m_db);
  const auto version = static_cast<std::size_t>(std::stoll(m_db->scalar("PRAGMA user_version")));
  if (version > k_migrations.size()) {
    throw sqlite::Error("the database was made by a newer livechat (schema " +
                        std::to_string(version) + ", this one knows " +
                        std::to_string(k_migrations.size()) + ")");
  }
  if (version == k_migrations.size()) {
    return;
  }
  for (std::size_t v = version; v < k_migrations.size(); ++v) {
    m_db->exec(k_migrations[v]);
  }
  m_db->exec("PRAGMA user_version = " + std::to_string(k_migrations.size()));
  transaction.commit();
  if (version > 0 || m_db->scalar("SELECT count(*) FROM messages") != "0") {
    spdlog::info("the database's schema was brought from version {} to {}", version,
                 k_migrations.size());
  }
}

SqliteStore::~SqliteStore() = default;

std::size_t SqliteStore::max_batch() const { return k_max_batch; }

std::chrono::milliseconds SqliteStore::idle_interval() const { return k_probe_interval; }

std::optional<MessageStore::Written> SqliteStore::write(std::vector<wire::Draft>& drafts) {
  std::string forwarded;
  {
    std::lock_guard lock(m_mutex);
    forwarded = m_forwarded_target;
  }
  const bool cursor_moved = forwarded != m_forwarded;
  const bool sweep = keys_due();
  if (drafts.empty() && !cursor_moved && !sweep) {
    if (health().writable) {
      return Written{};
    }
    return probe() ? std::optional<Written>(Written{}) : std::nullopt;
  }
  Written written;
  written.stored.reserve(drafts.size());
  written.answers.reserve(drafts.size());
  begin_commit();
  try {
    // Readers share the connection only for ":memory:"; a file's readers go on meanwhile.
    std::unique_lock read_lock(m_read_mutex, std::defer_lock);
    if (m_read_db == m_db.get()) {
      read_lock.lock();
    }
    sqlite::Transaction transaction(*m_db);
    // In order, each after the one before: an edit finds a message posted earlier in the
    // same batch, and a retry the key its first try stored.
    for (auto& draft : drafts) {
      written.answers.push_back(apply(draft, written.stored));
    }
    if (sweep) {
      expire_keys();
    }
    if (cursor_moved) {
      m_mark->bind(1, forwarded);
      m_mark->step();
      m_mark->reset();
    }
    transaction.commit();
  } catch (const sqlite::Error& e) {
    m_mark->reset();
    spdlog::error("cannot store {} messages: {}", drafts.size(), e.what());
    note_commit(e.what());
    return std::nullopt;  // a failed cursor update is retried with the next commit
  }
  note_commit("");
  std::lock_guard lock(m_mutex);
  m_forwarded = forwarded;
  m_count += static_cast<std::size_t>(
      std::count_if(written.stored.begin(), written.stored.end(),
                    [](const wire::Message& m) { return m.kind == wire::EventKind::message; }));
  return written;
}

bool SqliteStore::probe() {
  begin_commit();
  std::unique_lock read_lock(m_read_mutex, std::defer_lock);
  if (m_read_db == m_db.get()) {
    read_lock.lock();
  }
  try {
    sqlite::Transaction transaction(*m_db);
    m_probe->bind(1, k_probe_bytes);
    m_probe->step();
    m_probe->reset();
    transaction.commit();
  } catch (const sqlite::Error& e) {
    m_probe->reset();
    spdlog::debug("the database still takes no writes: {}", e.what());
    note_commit(e.what());
    return false;
  }
  note_commit("");
  try {
    m_db->exec("DELETE FROM probe");  // its pages are free again for messages
  } catch (const sqlite::Error& e) {
    spdlog::debug("cannot remove the probe row: {}", e.what());
  }
  return true;
}

void SqliteStore::begin_commit() {
  std::lock_guard lock(m_health_mutex);
  m_commit_began = std::chrono::steady_clock::now();
  m_committing = true;
}

void SqliteStore::note_commit(const std::string& error) {
  std::lock_guard lock(m_health_mutex);
  m_committing = false;
  const bool writable = error.empty();
  if (writable != m_health.writable) {
    if (writable) {
      spdlog::info("the database takes writes again");
    } else {
      spdlog::warn(
          "the database takes no writes ({}); posts are rejected (503) and /health says "
          "degraded until a commit succeeds (tried every second)",
          error);
    }
  }
  m_health.writable = writable;
  m_health.error = error;
}

StoreHealth SqliteStore::health() const {
  std::lock_guard lock(m_health_mutex);
  StoreHealth health = m_health;
  if (health.writable && m_committing &&
      std::chrono::steady_clock::now() - m_commit_began > k_max_commit_wait) {
    health.writable = false;
    health.error = "a commit has waited over a second (the database is locked or the disk slow)";
  }
  return health;
}

wire::Result<MessageStore::Batch> SqliteStore::query(const HistoryQuery& q) const {
  std::string sql = std::string("SELECT ") + k_message_columns + " FROM messages WHERE deleted = 0";
  int index = 0;
  std::vector<std::string> values;
  auto add = [&](const char* clause, const std::string& value) {
    sql += std::string(" AND ") + clause + " ?" + std::to_string(++index);
    values.push_back(value);
  };
  if (q.after) {
    add("id >", *q.after);
  }
  if (q.before) {
    add("id <", *q.before);
  }
  if (q.room) {
    add("room =", *q.room);
  }
  // After a cursor: the oldest ones from it; otherwise the newest ones, turned around below.
  sql += q.after ? " ORDER BY id ASC" : " ORDER BY id DESC";
  sql += " LIMIT " + std::to_string(q.limit);
  Batch out;
  try {
    std::lock_guard lock(m_read_mutex);
    sqlite::Statement select(*m_read_db, sql);
    for (int i = 0; i < index; ++i) {
      select.bind(i + 1, values[static_cast<std::size_t>(i)]);
    }
    while (select.step()) {
      out.push_back(sqlite::read_message(select));
    }
    if (!q.after) {
      std::reverse(out.begin(), out.end());
    }
    sqlite::add_reactions(*m_read_db, out);
  } catch (const sqlite::Error& e) {
    return wire::Error{"store_failed", e.what()};
  }
  return out;
}

wire::Result<MessageStore::Batch> SqliteStore::recent(std::size_t limit,
                                                      const std::string& before) const {
  Batch out;
  try {
    std::lock_guard lock(m_read_mutex);
    out = read_log(*m_read_db,
                   before.empty() ? "WHERE ?2 = '' ORDER BY id DESC LIMIT ?1"
                                  : "WHERE id < ?2 ORDER BY id DESC LIMIT ?1",
                   [limit, &before](sqlite::Statement& select) {
                     select.bind(1, static_cast<std::int64_t>(limit)).bind(2, before);
                   });
  } catch (const sqlite::Error& e) {
    return wire::Error{"store_failed", e.what()};
  }
  if (out.size() > limit) {
    out.erase(out.begin(), out.end() - static_cast<std::ptrdiff_t>(limit));
  }
  return out;
}

std::size_t SqliteStore::size() const {
  std::lock_guard lock(m_mutex);
  return m_count;
}

MessageStore::Batch SqliteStore::unforwarded() const {
  std::string forwarded;
  {
    std::lock_guard lock(m_mutex);
    forwarded = m_forwarded;
  }
  std::lock_guard lock(m_read_mutex);
  return read_log(*m_read_db, "WHERE id > ?1 ORDER BY id",
                  [&forwarded](sqlite::Statement& select) { select.bind(1, forwarded); });
}

void SqliteStore::mark_forwarded(const std::string& id) {
  std::lock_guard lock(m_mutex);
  m_forwarded_target = std::max(m_forwarded_target, id);
}

}  // namespace livechat::server::store
