#include "server/store/sqlite_store.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "server/store/sqlite.hpp"

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

constexpr const char* k_columns = "id, content, user, room, timestamp";

wire::Message read_message(const sqlite::Statement& row) {
  return {row.text(0), row.text(1), row.text(2), row.text(3), row.text(4)};
}

}  // namespace

SqliteStore::SqliteStore(const std::string& path, wire::IdGenerator::Clock clock)
    : m_ids(std::move(clock)) {
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
  if (memory) {
    m_read_db = m_db.get();
  } else {
    m_reader = std::make_unique<sqlite::Database>(path);
    m_read_db = m_reader.get();
  }
  // Ids go on after the newest stored one, also when the clock went back since.
  m_ids.observe(m_db->scalar("SELECT coalesce(max(id), '') FROM messages"));
  m_count = static_cast<std::size_t>(std::stoull(m_db->scalar("SELECT count(*) FROM messages")));
  m_forwarded = m_forwarded_target = m_db->scalar("SELECT delivered_id FROM outbox");
  m_insert = std::make_unique<sqlite::Statement>(
      *m_db,
      "INSERT INTO messages (id, content, user, room, timestamp) VALUES (?1, ?2, ?3, ?4, ?5)");
  m_mark = std::make_unique<sqlite::Statement>(*m_db,
                                               "UPDATE outbox SET delivered_id = ?1 WHERE one = 1");
  m_probe = std::make_unique<sqlite::Statement>(
      *m_db, "INSERT OR REPLACE INTO probe (one, data) VALUES (1, randomblob(?1))");
}

SqliteStore::~SqliteStore() = default;

std::size_t SqliteStore::max_batch() const { return k_max_batch; }

std::chrono::milliseconds SqliteStore::idle_interval() const { return k_probe_interval; }

std::optional<MessageStore::Batch> SqliteStore::write(std::vector<wire::Draft>& drafts) {
  std::string forwarded;
  {
    std::lock_guard lock(m_mutex);
    forwarded = m_forwarded_target;
  }
  const bool cursor_moved = forwarded != m_forwarded;
  if (drafts.empty() && !cursor_moved) {
    if (health().writable) {
      return Batch{};
    }
    return probe() ? std::optional<Batch>(Batch{}) : std::nullopt;
  }
  Batch batch;
  batch.reserve(drafts.size());
  for (auto& draft : drafts) {
    auto stamp = m_ids.next();
    batch.push_back({std::move(stamp.id), std::move(draft.content), std::move(draft.user),
                     std::move(draft.room), std::move(stamp.timestamp)});
  }
  begin_commit();
  try {
    // Readers share the connection only for ":memory:"; a file's readers go on meanwhile.
    std::unique_lock read_lock(m_read_mutex, std::defer_lock);
    if (m_read_db == m_db.get()) {
      read_lock.lock();
    }
    sqlite::Transaction transaction(*m_db);
    for (const auto& m : batch) {
      m_insert->bind(1, m.id)
          .bind(2, m.content)
          .bind(3, m.user)
          .bind(4, m.room)
          .bind(5, m.timestamp);
      m_insert->step();
      m_insert->reset();
    }
    if (cursor_moved) {
      m_mark->bind(1, forwarded);
      m_mark->step();
      m_mark->reset();
    }
    transaction.commit();
  } catch (const sqlite::Error& e) {
    m_insert->reset();
    m_mark->reset();
    spdlog::error("cannot store {} messages: {}", batch.size(), e.what());
    note_commit(e.what());
    return std::nullopt;  // a failed cursor update is retried with the next commit
  }
  note_commit("");
  std::lock_guard lock(m_mutex);
  m_forwarded = forwarded;
  m_count += batch.size();
  return batch;
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
  std::string sql = std::string("SELECT ") + k_columns + " FROM messages WHERE 1";
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
      out.push_back(read_message(select));
    }
  } catch (const sqlite::Error& e) {
    return wire::Error{"store_failed", e.what()};
  }
  if (!q.after) {
    std::reverse(out.begin(), out.end());
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
  Batch out;
  std::lock_guard lock(m_read_mutex);
  sqlite::Statement select(
      *m_read_db, std::string("SELECT ") + k_columns + " FROM messages WHERE id > ?1 ORDER BY id");
  select.bind(1, forwarded);
  while (select.step()) {
    out.push_back(read_message(select));
  }
  return out;
}

void SqliteStore::mark_forwarded(const std::string& id) {
  std::lock_guard lock(m_mutex);
  m_forwarded_target = std::max(m_forwarded_target, id);
}

}  // namespace livechat::server::store
