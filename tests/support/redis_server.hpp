#pragma once

#include <memory>
#include <string>

#include "tests/support/helpers.hpp"
#include "tests/support/process.hpp"

namespace livechat::test {

// A real redis-server (Debian's) on a free loopback port with a throwaway directory, writing
// every command to its append-only file so that a restart keeps what it had; stopped when it
// goes out of scope.
class RedisServer {
 public:
  RedisServer();
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  // Stops it (SIGTERM: it finishes writing its file) and waits until it has exited.
  void stop();
  // Starts it again on the same port and directory, and waits until it answers.
  void start();

  int port() const { return m_port; }
  // Returns "redis://127.0.0.1:<port>".
  std::string url() const;

 private:
  TempDir m_dir;
  int m_port;
  std::unique_ptr<Child> m_child;
};

}  // namespace livechat::test
