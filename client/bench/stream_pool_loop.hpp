#pragma once

// Private to the stream pool (stream_pool.cpp, the loop; stream_pool_streams.cpp, one stream's
// life): one event-loop thread of the pool and the streams it serves.

#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "client/bench/response_decoder.hpp"
#include "client/bench/stream_pool.hpp"

namespace livechat::client::bench {

using Clock = std::chrono::steady_clock;

// Where the service listens, resolved once for every connection.
struct Address {
  sockaddr_storage storage{};
  socklen_t length = 0;
};

// One stream of the pool: its socket (and TLS session), where its request stands, and what its
// response has decoded so far.
struct PooledStream {
  enum class Phase { idle, connecting, handshaking, sending, reading, waiting, done };
  Phase phase = Phase::idle;
  int fd = -1;
  SSL* ssl = nullptr;      // https: the TLS session over fd
  bool announced = false;  // its `connected` event arrived
  bool ever_connected = false;
  std::uint32_t generation = 0;
  std::string out;
  std::size_t sent = 0;
  ResponseDecoder decoder;
};

struct Timer {
  Clock::time_point when;
  std::size_t local = 0;
  std::uint32_t generation = 0;
};

// Closes a connection's TLS session and socket (which also leaves the epoll set).
void close_connection(PooledStream& c);

// One event-loop thread and the streams it serves: global index = local * loops + loop.
class StreamPool::Loop {
 public:
  // Serves `streams` streams, spread over `addresses` (and `tls`: null for plain HTTP), one per
  // endpoint.
  Loop(const StreamPoolConfig& config, StreamHandler& handler, Counters& counters,
       std::size_t index, std::size_t streams, std::size_t max_connecting,
       std::vector<Address> addresses, std::vector<std::shared_ptr<SSL_CTX>> tls);
  ~Loop();

  // Wakes the loop from its wait, so it sees a stop.
  void wake();

  // Serves the streams until `stop` is set, then closes them.
  void run(const std::atomic<bool>& stop);

 private:
  std::size_t global(std::size_t local) const { return local * m_loops + m_index; }

  // The loop (stream_pool.cpp): when to wake, which streams to start, which timed out.
  int wait_ms(Clock::time_point now) const;
  void start_due(Clock::time_point now);
  void expire(Clock::time_point now);

  // One stream's life (stream_pool_streams.cpp): its request, connect, TLS handshake, sending,
  // receiving, and its end.
  std::string request(std::size_t local) const;
  void begin(std::size_t local, Clock::time_point now);
  void want(std::size_t local, std::uint32_t events);
  void handshake(std::size_t local);
  void handle(std::size_t local, std::uint32_t events);
  void send_request(std::size_t local);
  ssize_t read_bytes(PooledStream& c);
  void receive(std::size_t local);
  bool receive_once(std::size_t local);
  void announce(std::size_t local);
  void release(std::size_t local);
  void fail(std::size_t local, int status, const std::string& reason);
  void end_stream(std::size_t local, const std::string& reason);

  const StreamPoolConfig& m_config;
  StreamHandler& m_handler;
  Counters& m_counters;
  std::size_t m_index;
  std::size_t m_loops;
  std::size_t m_max_connecting;
  std::vector<Address> m_addresses;             // one per endpoint
  std::vector<std::shared_ptr<SSL_CTX>> m_tls;  // one per endpoint; null: plain HTTP
  std::vector<PooledStream> m_connections;
  std::vector<char> m_buffer;
  std::deque<std::size_t> m_queue;
  std::deque<Timer> m_connect_timers;
  std::deque<Timer> m_reconnect_timers;
  std::size_t m_in_flight = 0;
  int m_epoll = -1;
  int m_wake = -1;
};

}  // namespace livechat::client::bench
