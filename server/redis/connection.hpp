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

  // Runs one command. Errors carry a code: "redis_unreachable" (no connection, or it broke: the
  // connection is dropped and the next call starts afresh), "redis_rejected" (AUTH or SELECT
  // failed, or Redis wants a password) or "redis_error" (any other error reply).
  wire::Result<Value> command(const std::vector<std::string>& args);

  // Runs a command that is safe to repeat: if a connection that was already open turns out
  // broken (a restarted Redis closes them all), it connects again and tries once more.
  wire::Result<Value> read(const std::vector<std::string>& args);

  // Makes a command blocked in another thread, and every later one, fail at once (thread safe;
  // for stopping).
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
  bool m_interrupted = false;
};

}  // namespace livechat::server::redis
