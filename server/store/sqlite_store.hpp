#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "server/store/message_store.hpp"
#include "wire/id.hpp"

namespace livechat::server::store {

namespace sqlite {
class Database;
class Statement;
}  // namespace sqlite

// Keeps messages in a SQLite file (WAL): each is committed before its POST is answered, and
// concurrent posts share one commit (group commit), so the write rate keeps up with the service.
class SqliteStore final : public MessageStore {
 public:
  // Opens or creates the database; throws sqlite::Error with a clear message if it cannot. Ids
  // come from `clock`, after the newest stored one.
  explicit SqliteStore(const std::string& path,
                       wire::IdGenerator::Clock clock = wire::system_micros);
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  // Commits the batch together with the forwarded cursor if it moved; with no drafts, commits
  // only a moved cursor, or while the database takes no writes, probes whether it does again.
  std::optional<Batch> write(std::vector<wire::Draft>& drafts) override;
  std::size_t max_batch() const override;
  // While not writable, a probe is tried this often, so health recovers without a post.
  std::chrono::milliseconds idle_interval() const override;
  wire::Result<Batch> query(const HistoryQuery& query) const override;
  std::size_t size() const override;
  Batch unforwarded() const override;
  void mark_forwarded(const std::string& id) override;
  std::string kind() const override { return "sqlite"; }
  // Not writable from a failed commit (disk full, read-only, locked) until one succeeds, and
  // while a commit has waited over a second.
  StoreHealth health() const override;

 private:
  // Commits a row as big as the largest post, and removes it; returns whether it committed.
  bool probe();
  // Records that a commit starts, and then its outcome, for health(); `error` empty: it
  // succeeded.
  void begin_commit();
  void note_commit(const std::string& error);

  std::unique_ptr<sqlite::Database> m_db;      // written by write() only
  std::unique_ptr<sqlite::Database> m_reader;  // history reads (the same database in WAL)
  sqlite::Database* m_read_db = nullptr;       // m_reader, or m_db for ":memory:"
  mutable std::mutex m_read_mutex;
  std::unique_ptr<sqlite::Statement> m_insert;
  std::unique_ptr<sqlite::Statement> m_mark;
  std::unique_ptr<sqlite::Statement> m_probe;
  wire::IdGenerator m_ids;

  mutable std::mutex m_mutex;
  std::string m_forwarded;         // persisted forwarded cursor
  std::string m_forwarded_target;  // to persist at the next commit
  std::size_t m_count = 0;

  mutable std::mutex m_health_mutex;
  StoreHealth m_health;
  std::chrono::steady_clock::time_point m_commit_began;  // of the commit under way, if any
  bool m_committing = false;
};

}  // namespace livechat::server::store
