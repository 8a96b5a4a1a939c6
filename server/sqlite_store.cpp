#include "server/sqlite_store.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "server/sqlite.hpp"

namespace livechat::server {
namespace {

// One commit takes at most this many messages; more wait for the next one.
constexpr std::size_t k_max_batch = 1024;
// Failed ticket ranges remembered for waiters that have not looked yet.
constexpr std::size_t k_failed_ranges = 256;

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
)sql";

constexpr const char* k_columns = "id, content, user, room, timestamp";

wire::Message read_message(const sqlite::Statement& row) {
  return {row.text(0), row.text(1), row.text(2), row.text(3), row.text(4)};
}

}  // namespace

SqliteStore::SqliteStore(const std::string& path) {
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
  std::string newest = m_db->scalar("SELECT coalesce(max(id), '') FROM messages");
  if (!newest.empty()) {
    m_newest = newest;
  }
  m_count = static_cast<std::size_t>(std::stoull(m_db->scalar("SELECT count(*) FROM messages")));
  m_delivered = m_delivered_target = m_db->scalar("SELECT delivered_id FROM outbox");
  m_thread = std::thread([this] { run(); });
}

SqliteStore::~SqliteStore() {
  {
    std::lock_guard lock(m_mutex);
    m_stopping = true;
  }
  m_work.notify_all();
  m_thread.join();
}

void SqliteStore::on_stored(std::function<void(const Batch&)> sink) {
  std::unique_lock lock(m_mutex);
  m_sink = std::move(sink);
  m_sink_idle.wait(lock, [&] { return !m_sinking; });
}

std::uint64_t SqliteStore::enqueue(wire::Message message) {
  std::lock_guard lock(m_mutex);
  std::uint64_t ticket = ++m_next_ticket;
  m_pending.emplace_back(ticket, std::move(message));
  m_work.notify_one();
  return ticket;
}

bool SqliteStore::failed(std::uint64_t ticket) const {
  for (const auto& [first, last] : m_failed) {
    if (ticket >= first && ticket <= last) {
      return true;
    }
  }
  return false;
}

bool SqliteStore::wait_stored(std::uint64_t ticket) {
  std::unique_lock lock(m_mutex);
  m_stored.wait(lock, [&] { return m_done_ticket >= ticket; });
  return !failed(ticket);
}

void SqliteStore::run() {
  sqlite::Statement insert(*m_db,
                           "INSERT INTO messages (id, content, user, room, timestamp) "
                           "VALUES (?1, ?2, ?3, ?4, ?5)");
  sqlite::Statement mark(*m_db, "UPDATE outbox SET delivered_id = ?1 WHERE one = 1");
  std::unique_lock lock(m_mutex);
  for (;;) {
    m_work.wait(lock, [&] {
      return m_stopping || !m_pending.empty() || m_delivered_target != m_delivered;
    });
    if (m_pending.empty() && m_delivered_target == m_delivered && m_stopping) {
      return;
    }
    // Everything that queued up while the last commit ran goes into this one.
    std::vector<std::pair<std::uint64_t, wire::Message>> batch;
    while (!m_pending.empty() && batch.size() < k_max_batch) {
      batch.push_back(std::move(m_pending.front()));
      m_pending.pop_front();
    }
    std::string delivered = m_delivered_target;
    const bool cursor_moved = delivered != m_delivered;
    lock.unlock();
    bool ok = true;
    try {
      // Readers share the connection only for ":memory:"; a file's readers go on meanwhile.
      std::unique_lock read_lock(m_read_mutex, std::defer_lock);
      if (m_read_db == m_db.get()) {
        read_lock.lock();
      }
      sqlite::Transaction transaction(*m_db);
      for (const auto& [ticket, m] : batch) {
        insert.bind(1, m.id)
            .bind(2, m.content)
            .bind(3, m.user)
            .bind(4, m.room)
            .bind(5, m.timestamp);
        insert.step();
        insert.reset();
      }
      if (cursor_moved) {
        mark.bind(1, delivered);
        mark.step();
        mark.reset();
      }
      transaction.commit();
    } catch (const sqlite::Error& e) {
      insert.reset();
      mark.reset();
      spdlog::error("cannot store {} messages: {}", batch.size(), e.what());
      ok = false;
    }
    Batch stored;
    if (ok) {
      stored.reserve(batch.size());
      for (auto& entry : batch) {
        stored.push_back(std::move(entry.second));
      }
    }
    lock.lock();
    if (ok) {
      m_delivered = delivered;
      m_count += stored.size();
      if (!stored.empty()) {
        m_newest = stored.back().id;
      }
    } else if (!batch.empty()) {
      m_failed.emplace_back(batch.front().first, batch.back().first);
      if (m_failed.size() > k_failed_ranges) {
        m_failed.pop_front();
      }
    } else {
      m_delivered = delivered;  // a failed cursor update is retried at no cost next time
    }
    auto sink = m_sink;
    m_sinking = !stored.empty() && sink;
    lock.unlock();
    // Handed on from this one thread, so delivery order is store order; and before the posts
    // are answered, so a client that resumes from an id it was just given finds it.
    if (m_sinking) {
      sink(stored);
    }
    lock.lock();
    m_sinking = false;
    if (!batch.empty()) {
      m_done_ticket = batch.back().first;
    }
    m_sink_idle.notify_all();
    m_stored.notify_all();
  }
}

MessageStore::Batch SqliteStore::query(const HistoryQuery& q) const {
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
  std::lock_guard lock(m_read_mutex);
  sqlite::Statement select(*m_read_db, sql);
  for (int i = 0; i < index; ++i) {
    select.bind(i + 1, values[static_cast<std::size_t>(i)]);
  }
  while (select.step()) {
    out.push_back(read_message(select));
  }
  if (!q.after) {
    std::reverse(out.begin(), out.end());
  }
  return out;
}

std::optional<std::string> SqliteStore::newest_id() const {
  std::lock_guard lock(m_mutex);
  return m_newest;
}

std::size_t SqliteStore::size() const {
  std::lock_guard lock(m_mutex);
  return m_count;
}

MessageStore::Batch SqliteStore::undelivered() const {
  std::string delivered;
  {
    std::lock_guard lock(m_mutex);
    delivered = m_delivered;
  }
  Batch out;
  std::lock_guard lock(m_read_mutex);
  sqlite::Statement select(
      *m_read_db, std::string("SELECT ") + k_columns + " FROM messages WHERE id > ?1 ORDER BY id");
  select.bind(1, delivered);
  while (select.step()) {
    out.push_back(read_message(select));
  }
  return out;
}

void SqliteStore::mark_delivered(const std::string& id) {
  std::lock_guard lock(m_mutex);
  if (id > m_delivered_target) {
    m_delivered_target = id;
    m_work.notify_one();
  }
}

}  // namespace livechat::server
