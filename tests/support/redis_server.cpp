#include "tests/support/redis_server.hpp"

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <stdexcept>

namespace livechat::test {
namespace {

// Finds a program on PATH.
std::string find_program(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    auto candidate = std::filesystem::path(dir) / name;
    if (std::filesystem::exists(candidate)) {
      return candidate.string();
    }
  }
  throw std::runtime_error(name + " not found on PATH (scripts/setup installs redis-server)");
}

}  // namespace

RedisServer::RedisServer() : m_port(free_port()) { start(); }

RedisServer::~RedisServer() { stop(); }

std::string RedisServer::url() const { return "redis://127.0.0.1:" + std::to_string(m_port); }

void RedisServer::start() {
  static const std::string program = find_program("redis-server");
  m_child = std::make_unique<Child>(std::vector<std::string>{
      program, "--port", std::to_string(m_port), "--bind", "127.0.0.1", "--dir",
      m_dir.path().string(), "--appendonly", "yes", "--appendfsync", "always", "--save", "",
      "--daemonize", "no", "--protected-mode", "no"});
  bool ready = m_child->wait_until(
      [](const std::string& out, const std::string&) {
        return out.find("Ready to accept connections") != std::string::npos;
      },
      15s);
  if (!ready) {
    throw std::runtime_error("redis-server did not start; it said:\n" + m_child->out() +
                             m_child->err());
  }
}

void RedisServer::stop() {
  if (m_child) {
    m_child->signal(SIGTERM);
    m_child->wait_exit(15s);
    m_child.reset();
  }
}

}  // namespace livechat::test
