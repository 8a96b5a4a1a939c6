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
// Edits, deletes and reactions change a message's row and are kept as events of their own, in
// the same sequence of ids; posts with an Idempotency-Key keep the key and their first answer.
// A file made by an older livechat is migrated in place when it opens.
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
  std::optional<Written> write(std::vector<wire::Draft>& drafts) override;
  std::size_t max_batch() const override;
  // While not writable, a probe is tried this often, so health recovers without a post.
  std::chrono::milliseconds idle_interval() const override;
  wire::Result<Batch> query(const HistoryQuery& query) const override;
  wire::Result<Batch> recent(std::size_t limit, const std::string& before) const override;
  std::size_t size() const override;
  Batch unforwarded() const override;
  void mark_forwarded(const std::string& id) override;
  std::string kind() const override { return "sqlite"; }
  // Not writable from a failed commit (disk full, read-only, locked) until one succeeds, and
  // while a commit has waited over a second.
  StoreHealth health() const override;

 private:
  // Brings a database of an older schema up to this one, in one transaction.
  void migrate();
  // Stores one draft within the write's transaction (appending the events it stores to
  // `batch`) and returns how it is answered; throws sqlite::Error if the database fails.
  Answer apply(wire::Draft& draft, Batch& batch);
  Answer post(wire::Draft& draft, Batch& batch);
  Answer change(wire::Draft& draft, Batch& batch);
  // Returns a stored message in its current state, read on the writing connection.
  wire::Message state(const std::string& id);
  // Tells whether expired idempotency keys are due to be forgotten (once a minute), and forgets
  // them, within a write's transaction.
  bool keys_due() const;
  void expire_keys();
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
  std::unique_ptr<sqlite::Statement> m_find;        // a message a change names
  std::unique_ptr<sqlite::Statement> m_add_change;  // an edit, delete or reaction event
  std::unique_ptr<sqlite::Statement> m_edit;        // a message's new content
  std::unique_ptr<sqlite::Statement> m_delete;      // a message marked deleted
  std::unique_ptr<sqlite::Statement> m_has_reaction;
  std::unique_ptr<sqlite::Statement> m_react;
  std::unique_ptr<sqlite::Statement> m_unreact;
  std::unique_ptr<sqlite::Statement> m_find_key;
  std::unique_ptr<sqlite::Statement> m_add_key;
  std::unique_ptr<sqlite::Statement> m_expire_keys;
  wire::IdGenerator::Clock m_clock;
  wire::IdGenerator m_ids;
  std::int64_t m_keys_expired_at = 0;  // microseconds (the writing thread only)

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
