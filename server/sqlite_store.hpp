#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "server/message_store.hpp"

namespace livechat::server {

namespace sqlite {
class Database;
}

// Keeps messages in a SQLite file (WAL): each is committed before its POST is answered, and
// concurrent posts share one commit (group commit), so the write rate keeps up with the service.
class SqliteStore final : public MessageStore {
 public:
  // Opens or creates the database; throws sqlite::Error with a clear message if it cannot.
  explicit SqliteStore(const std::string& path);
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  std::uint64_t enqueue(wire::Message message) override;
  bool wait_stored(std::uint64_t ticket) override;
  void on_stored(std::function<void(const Batch&)> sink) override;
  Batch query(const HistoryQuery& query) const override;
  std::optional<std::string> newest_id() const override;
  std::size_t size() const override;
  Batch undelivered() const override;
  void mark_delivered(const std::string& id) override;
  std::string kind() const override { return "sqlite"; }

 private:
  void run();
  bool failed(std::uint64_t ticket) const;

  std::unique_ptr<sqlite::Database> m_db;      // written by the commit thread only
  std::unique_ptr<sqlite::Database> m_reader;  // history reads (the same database in WAL)
  sqlite::Database* m_read_db = nullptr;       // m_reader, or m_db for ":memory:"
  mutable std::mutex m_read_mutex;

  mutable std::mutex m_mutex;
  std::condition_variable m_work;
  std::condition_variable m_stored;
  std::deque<std::pair<std::uint64_t, wire::Message>> m_pending;
  std::uint64_t m_next_ticket = 0;
  std::uint64_t m_done_ticket = 0;
  std::deque<std::pair<std::uint64_t, std::uint64_t>> m_failed;  // ticket ranges
  std::string m_delivered;                                       // persisted outbox cursor
  std::string m_delivered_target;                                // to persist at the next commit
  std::optional<std::string> m_newest;
  std::size_t m_count = 0;
  std::function<void(const Batch&)> m_sink;
  bool m_sinking = false;  // the commit thread is handing a batch to the sink
  std::condition_variable m_sink_idle;
  bool m_stopping = false;
  std::thread m_thread;
};

}  // namespace livechat::server
