#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <thread>

namespace livechat::test {

// Forwards loopback TCP connections to a target port, and cuts or refuses them on demand.
class TcpProxy {
 public:
  // Listens on a free port of 127.0.0.1 and forwards each connection to 127.0.0.1:`target_port`.
  explicit TcpProxy(int target_port);
  // Stops accepting, closes every connection and joins every thread.
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  // Returns the port the proxy listens on.
  int port() const { return m_port; }

  // Closes every current connection on both sides at once (with a reset); returns how many.
  // Tests cut by count (every so many posts), not by clock, so that what they check does not
  // depend on the speed of the machine.
  std::size_t cut_all();

  // Makes new connections be accepted and reset at once (true) or forwarded again (false).
  void set_refusing(bool refusing);

  // Cuts a connection (with a reset) as the first bytes of every `every`-th answer come back
  // from the target, which were not passed on: the request was served, its answer is lost; 0
  // stops. A read of the target's bytes counts as one answer (a kept-alive connection's
  // requests are answered one at a time).
  void lose_answers(std::size_t every);

  // Returns how many answers were lost so.
  std::size_t lost() const { return m_lost.load(); }

  // Returns how many connections the proxy accepted so far (refused ones included).
  std::size_t connections() const { return m_connections.load(); }

  // Returns how many forwarded connections were cut so far.
  std::size_t cuts() const { return m_cuts.load(); }

 private:
  struct Link;

  void accept_loop();
  void relay(const std::shared_ptr<Link>& link);
  void reap_finished();

  int m_target_port = 0;
  int m_port = 0;
  int m_listen_fd = -1;
  int m_wake_fd = -1;
  std::atomic<bool> m_stopping{false};
  std::atomic<bool> m_refusing{false};
  std::atomic<std::size_t> m_connections{0};
  std::atomic<std::size_t> m_cuts{0};
  std::atomic<std::size_t> m_lose_every{0};
  std::atomic<std::size_t> m_answers{0};
  std::atomic<std::size_t> m_lost{0};
  std::mutex m_mutex;
  std::list<std::shared_ptr<Link>> m_links;
  std::thread m_acceptor;
};

}  // namespace livechat::test
