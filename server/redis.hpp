#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <vector>

#include "wire/result.hpp"
#include "wire/url.hpp"

struct redisContext;

namespace livechat::server::redis {

// A Redis reply, copied out of hiredis's: a string, number, array, nil, status or error.
struct Value {
  enum class Type { nil, string, integer, array, status, error } type = Type::nil;
  std::string text;  // string, status and error
  long long integer = 0;
  std::vector<Value> items;  // array

  bool is_error() const { return type == Type::error; }
};

// One connection to a Redis server (hiredis, blocking I/O with timeouts). It connects on first
// use and again after an I/O error, so a restarted Redis is picked up by the next command.
// Not thread safe: one thread uses it at a time.
class Connection {
 public:
  // `timeout` bounds connecting and each read and write (a blocking command must fit in it).
  Connection(wire::RedisAddress address, std::chrono::milliseconds timeout);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs one command. A failure to reach Redis (or an error reply) is an error; the connection
  // is dropped after an I/O error, so the next call starts afresh.
  wire::Result<Value> command(const std::vector<std::string>& args);

  // Makes a command blocked in another thread fail at once (thread safe; for stopping).
  void interrupt();

  const wire::RedisAddress& address() const { return m_address; }

 private:
  wire::Result<bool> connect();
  void drop();

  wire::RedisAddress m_address;
  std::chrono::milliseconds m_timeout;
  redisContext* m_context = nullptr;
  std::mutex m_fd_mutex;  // interrupt() never touches a socket drop() has closed
  int m_fd = -1;
};

}  // namespace livechat::server::redis
