#pragma once

// Private to server/http (only its .cpp files include it): every part of livechat's HTTP server
// that depends on cpp-httplib 0.11.4's insides rather than on its documented API. The byte
// stream cpp-httplib serves one connection through (a subclass of httplib::Stream: a TCP socket,
// or TLS over it), through which livechat bounds what 0.11.4 does not: the time a request may
// take to arrive and the bytes its head may have; and the server that serves one request off it
// (httplib::Server's protected process_request and listening socket).

#ifndef LIVECHAT_HTTP_PRIVATE
#error "server/http/httplib_backend.hpp is private to server/http: include server/http/server.hpp"
#endif

#include <openssl/ssl.h>

#include <httplib.h>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/http/server.hpp"
#include "wire/http_head.hpp"

static_assert(
    std::string_view(CPPHTTPLIB_VERSION) == "0.11.4",
    "livechat's HTTP server is built on cpp-httplib 0.11.4's insides; on another "
    "version re-check, in server/http: httplib::Stream's virtual members "
    "(ConnectionStream), Server::process_request's signature and that it serves one "
    "request, svr_sock_ as what stops keep-alive loops and content providers, that a "
    "head without Content-Length makes it read a body to the end of the stream "
    "(read_head), that it writes \"HTTP/1.1 100\" before a body it asked for "
    "(ConnectionStream::write), what its error handler sees of the answers it makes "
    "itself (413 over set_payload_max_length, an empty body), and that a chunked "
    "content provider returning false ends the response, and which function-local statics "
    "it builds on first use (HttpServer::warm_up); then update this check");

namespace livechat::server::http {

// Limits of one connection; HttpServer sets each from its HttpServerOptions.
struct StreamLimits {
  std::chrono::milliseconds read_timeout{};
  std::chrono::milliseconds write_timeout{};
  // A request (its head and body) must arrive whole within this, however it trickles in.
  std::chrono::milliseconds request_timeout{};
  // What a request's head may be.
  wire::HeadLimits head;
  // The bytes a body may take on the wire, its chunks' framing included.
  std::uint64_t max_body_wire_bytes = 0;
};

// Why a read ended a request early.
enum class Breach { none, too_slow, too_large };

// The byte stream of one connection, with the limits above.
class ConnectionStream final : public httplib::Stream {
 public:
  using Clock = std::chrono::steady_clock;

  // Serves `fd` (owned by the caller), through `ssl` if not null (also owned by the caller; its
  // socket must not block).
  ConnectionStream(int fd, SSL* ssl, const StreamLimits& limits);

  // What waiting for a request saw.
  enum class Wait {
    request,  // its first bytes (or the end of the stream) can be read
    idle,     // nothing came within the timeout
    closed,   // the connection broke, or `wake_fd` became readable (the server is stopping)
  };

  // Waits until a request's first bytes can be read, for at most `timeout`.
  Wait wait_for_request(std::chrono::milliseconds timeout, int wake_fd);

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

  // Gives the socket and TLS session away (a stream route took them): from now on every read
  // and write fails without touching them, and the connection's thread does not close them.
  void hand_off() { m_handed_off = true; }

  // Tells whether the connection was handed off.
  bool handed_off() const { return m_handed_off; }

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
  bool m_handed_off = false;
};

// cpp-httplib's server with livechat's connection loop: livechat accepts the sockets itself (a
// real backlog, a thread per connection with a small stack, each connection's socket known to
// its stream routes, whose sockets the SSE hub writes to without blocking) and reads each
// request through its own stream, which bounds how long a request may take and how large its
// head may be.
class HttpServer::Backend : public httplib::Server {
 public:
  // Returns the listening socket cpp-httplib bound; storing INVALID_SOCKET in it makes its
  // keep-alive loops and content providers end.
  std::atomic<socket_t>& listen_socket() { return svr_sock_; }

  // Serves one request; false when the connection must close.
  bool serve(ConnectionStream& stream) {
    bool closed = false;
    bool ok = process_request(stream, false, closed, [](httplib::Request&) {});
    return ok && !closed;
  }
};

// Returns the connection the calling thread serves, or null.
ConnectionStream* current_stream();

// Returns the error a request that could not be read gets: the limit it broke on the calling
// thread's connection, if it broke one, or else the error of `status`.
wire::ApiError request_error(int status);

// Returns the Access-Control-Allow-Origin an answer to `origin` gets under `allowed_origins`
// ("*" for any), or "" for none.
std::string allowed_origin(const std::vector<std::string>& allowed_origins,
                           std::string_view origin);

// Adds the CORS headers a browser needs to read a response from another origin.
void add_cors_headers(const httplib::Request& request, httplib::Response& response,
                      const std::vector<std::string>& allowed_origins);

// Adds the headers every answer carries: no MIME sniffing, no Referer sent on from a page.
void add_security_headers(httplib::Response& response);

// Returns a whole HTTP response carrying an error, for the answers written outside cpp-httplib
// (to requests rejected before it reads them); the connection closes after it. `allow_origin`
// is the Access-Control-Allow-Origin to send, if any.
std::string closing_error_reply(const wire::ApiError& error, std::string_view allow_origin = {});

}  // namespace livechat::server::http
