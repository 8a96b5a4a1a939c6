#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace livechat::server::store::sqlite {

// A failure of SQLite, with its message.
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Statement;

// An open database connection (closed when destroyed).
class Database {
 public:
  // Opens (creating if need be) the database at `path`; ":memory:" is a private in-memory one.
  explicit Database(const std::string& path);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Runs SQL that returns no rows (several statements allowed).
  void exec(const std::string& sql);

  // Runs a query that returns one text value (e.g. a pragma).
  std::string scalar(const std::string& sql);

  sqlite3* handle() { return m_db; }

 private:
  sqlite3* m_db = nullptr;
};

// A prepared statement; reset between uses.
class Statement {
 public:
  Statement(Database& db, const std::string& sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Binds a parameter (1-based).
  Statement& bind(int index, std::string_view text);
  Statement& bind(int index, std::int64_t value);

  // Steps once; returns true while there is a row to read.
  bool step();

  // Reads a column of the current row (0-based).
  std::string text(int column) const;
  std::int64_t integer(int column) const;

  // Makes the statement ready to run again, with its bindings cleared.
  void reset();

 private:
  sqlite3* m_db;
  sqlite3_stmt* m_stmt = nullptr;
};

// Runs a transaction: commits when commit() is called, rolls back if destroyed before.
class Transaction {
 public:
  explicit Transaction(Database& db);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();

 private:
  Database& m_db;
  bool m_done = false;
};

}  // namespace livechat::server::store::sqlite
