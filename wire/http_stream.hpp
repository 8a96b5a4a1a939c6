#pragma once

// The byte stream cpp-httplib serves one connection through: a TCP socket, or TLS over it.
// livechat reads requests through it so that it can bound what cpp-httplib 0.11.4 does not: the
// time a request may take to arrive and the bytes its head may have.

#include <openssl/ssl.h>

#include <httplib.h>
#include <chrono>
#include <cstddef>
#include <string>

namespace livechat::wire {

// Limits of one connection.
struct StreamLimits {
  std::chrono::milliseconds read_timeout{5000};
  std::chrono::milliseconds write_timeout{5000};
  // A request (its head and body) must arrive whole within this, however it trickles in.
  std::chrono::milliseconds request_timeout{20'000};
  // The request line and headers of one request, in bytes.
  std::size_t max_header_bytes = 32 * 1024;
};

// Why a read ended a request early.
enum class Breach { none, too_slow, headers_too_large };

class ConnectionStream final : public httplib::Stream {
 public:
  using Clock = std::chrono::steady_clock;

  // Serves `fd` (owned by the caller), through `ssl` if not null (also owned by the caller).
  ConnectionStream(int fd, SSL* ssl, const StreamLimits& limits);

  // Waits until a request's first bytes can be read, for at most `timeout`; false if none came,
  // the connection closed, or `wake_fd` became readable (the server is stopping).
  bool wait_for_request(std::chrono::milliseconds timeout, int wake_fd);

  // Starts the clock and the header budget of the next request.
  void begin_request();

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
  // Reads what the transport has into the buffer, waiting at most until the deadline;
  // false on end of stream, error or a broken limit.
  bool fill();
  // Counts bytes handed to cpp-httplib against the head of the request until its blank line.
  void scan_head(const char* data, std::size_t size);
  bool has_buffered() const;

  int m_fd;
  SSL* m_ssl;
  StreamLimits m_limits;
  char m_buffer[4096];
  std::size_t m_begin = 0;
  std::size_t m_end = 0;
  bool m_in_head = false;      // reading the request line and headers
  bool m_deadline_on = false;  // until the response starts
  std::size_t m_head_bytes = 0;
  std::size_t m_line_bytes = 0;  // of the current header line, without CR
  Clock::time_point m_deadline;
  Breach m_breach = Breach::none;
  bool m_close_after = false;
};

}  // namespace livechat::wire
