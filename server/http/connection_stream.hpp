#pragma once

// The byte stream cpp-httplib serves one connection through: a TCP socket, or TLS over it.
// livechat reads requests through it so that it can bound what cpp-httplib 0.11.4 does not: the
// time a request may take to arrive and the bytes its head may have.

#include <openssl/ssl.h>

#include <httplib.h>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "wire/http_head.hpp"

namespace livechat::server::http {

// Limits of one connection.
struct StreamLimits {
  std::chrono::milliseconds read_timeout{5000};
  std::chrono::milliseconds write_timeout{5000};
  // A request (its head and body) must arrive whole within this, however it trickles in.
  std::chrono::milliseconds request_timeout{20'000};
  // What a request's head may be.
  wire::HeadLimits head;
  // The bytes a body may take on the wire, its chunks' framing included.
  std::uint64_t max_body_wire_bytes = 2 * 1024 * 1024 + 64 * 1024;
};

// Why a read ended a request early.
enum class Breach { none, too_slow, too_large };

class ConnectionStream final : public httplib::Stream {
 public:
  using Clock = std::chrono::steady_clock;

  // Serves `fd` (owned by the caller), through `ssl` if not null (also owned by the caller; its
  // socket must not block).
  ConnectionStream(int fd, SSL* ssl, const StreamLimits& limits);

  // Waits until a request's first bytes can be read, for at most `timeout`; false if none came,
  // the connection closed, or `wake_fd` became readable (the server is stopping).
  bool wait_for_request(std::chrono::milliseconds timeout, int wake_fd);

  // Starts the clock of the next request.
  void begin_request();

  // Reads the next request's head whole and checks it (wire/http_head); cpp-httplib reads it
  // afterwards from what was buffered. Null without an error: the client went away first.
  std::optional<wire::Result<wire::RequestHead, wire::ApiError>> read_head();

  // Returns how many bytes of the current request's body were read.
  std::uint64_t body_bytes_read() const { return m_served - m_head_bytes; }

  // Tells which limit, if any, a read of the current request broke.
  Breach breach() const { return m_breach; }

  // Tells whether the answer to the current request has begun.
  bool answered() const { return !m_deadline_on; }

  // Asks that the connection close once the current request is answered.
  void close_after() { m_close_after = true; }

  // Tells whether the connection must close after the current request.
  bool closing() const { return m_close_after; }

  // Returns the TLS session of an HTTPS connection, or null.
  SSL* ssl() const { return m_ssl; }

  bool is_readable() const override;
  bool is_writable() const override;
  ssize_t read(char* ptr, std::size_t size) override;
  ssize_t write(const char* ptr, std::size_t size) override;
  void get_remote_ip_and_port(std::string& ip, int& port) const override;
  void get_local_ip_and_port(std::string& ip, int& port) const override;
  socket_t socket() const override { return m_fd; }

 private:
  // Reads what the transport has onto the end of the buffer, waiting at most until the
  // deadline; false on end of stream, error or a broken limit.
  bool fill();
  // Waits for `events` on the socket within the read timeout and the request's deadline;
  // false (and the breach, if the deadline ran out) when they did not come.
  bool wait_readable(short events);
  bool has_buffered() const;

  int m_fd;
  SSL* m_ssl;
  StreamLimits m_limits;
  std::string m_buffer;            // read from the transport, not yet handed to cpp-httplib
  std::size_t m_begin = 0;         // the first byte of m_buffer not yet handed on
  bool m_deadline_on = false;      // until the response starts
  std::uint64_t m_head_bytes = 0;  // of the current request
  std::uint64_t m_served = 0;      // of the current request handed to cpp-httplib
  Clock::time_point m_deadline;
  Breach m_breach = Breach::none;
  bool m_timed_out = false;  // the last fill() waited in vain
  bool m_close_after = false;
};

}  // namespace livechat::server::http
