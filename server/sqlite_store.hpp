#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "server/message_store.hpp"
#include "wire/id.hpp"

namespace livechat::server {

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

  wire::Result<Batch> query(const HistoryQuery& query) const override;
  std::size_t size() const override;
  Batch undelivered() const override;
  void mark_delivered(const std::string& id) override;
  std::string kind() const override { return "sqlite"; }

 private:
  // Stamps and commits a batch, with the outbox cursor if it moved (on the queue's thread).
  std::optional<Batch> write(std::vector<wire::Draft>& drafts);

  std::unique_ptr<sqlite::Database> m_db;      // written by the queue's thread only
  std::unique_ptr<sqlite::Database> m_reader;  // history reads (the same database in WAL)
  sqlite::Database* m_read_db = nullptr;       // m_reader, or m_db for ":memory:"
  mutable std::mutex m_read_mutex;
  std::unique_ptr<sqlite::Statement> m_insert;
  std::unique_ptr<sqlite::Statement> m_mark;
  wire::IdGenerator m_ids;

  mutable std::mutex m_mutex;
  std::string m_delivered;         // persisted outbox cursor
  std::string m_delivered_target;  // to persist at the next commit
  std::size_t m_count = 0;
};

}  // namespace livechat::server
