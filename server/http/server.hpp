#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "wire/errors.hpp"
#include "wire/http_head.hpp"
#include "wire/metrics.hpp"
#include "wire/result.hpp"

struct ssl_st;

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace livechat::wire {
struct RequestHead;
class TlsContext;
}  // namespace livechat::wire

namespace livechat::server::http {

class ConnectionStream;
struct StreamLimits;

// How an HTTP server listens and what it allows; the defaults fit a chat service.
struct HttpServerOptions {
  std::string host = "0.0.0.0";
  int port = 0;
  // Bodies are chat messages or small batches of them; anything larger is rejected with a 413.
  std::size_t max_body_bytes = 1024 * 1024;
  // cpp-httplib listens with a backlog of 5; thousands of clients reconnect at once after a
  // restart, so the socket is listened on again with this one.
  int backlog = 4096;
  // Each connection runs on its own thread while it has requests; stacks stay small (this is
  // virtual memory; what is touched is a few KiB).
  std::size_t thread_stack_bytes = 512 * 1024;
  // Origins allowed by CORS; "*" allows any (the page also works from file://).
  std::vector<std::string> allowed_origins = {"*"};
  // Each read and write waits this long at most.
  std::chrono::seconds read_timeout{5};
  std::chrono::seconds write_timeout{5};
  std::chrono::seconds keep_alive_timeout{5};
  // A kept-alive connection that sends no request for this long waits for its next one in the
  // server's idle set, without a thread (for the rest of the keep-alive timeout); a client that
  // goes on at once keeps its thread.
  std::chrono::milliseconds idle_after{50};
  // A request must arrive whole (request line, headers and body) within this, or it gets a 408
  // and its connection closes: a client trickling bytes holds a thread no longer than this.
  std::chrono::milliseconds request_timeout{20'000};
  // The request line and headers of one request, in bytes; beyond it, a 431.
  std::size_t max_header_bytes = wire::HeadLimits{}.max_head_bytes;
  // Serves HTTPS with this certificate and key when set.
  std::shared_ptr<wire::TlsContext> tls;
  // How long stop() lets open connections finish before it cuts them.
  std::chrono::milliseconds drain_timeout{1500};
  // Behind a reverse proxy: a client's address is the last one in X-Forwarded-For (the one the
  // proxy added), not the proxy's own.
  bool trust_proxy = false;
};

// A connection a stream route took over: its socket and, on HTTPS, its TLS session (whose socket
// does not block). Whoever takes it closes both.
struct HandedConnection {
  int fd = -1;
  ssl_st* ssl = nullptr;
};

// The connection of a streamed response, handed to its stream route's body once the response's
// head is written: the body writes the stream's first bytes, then takes the connection over, so
// that no thread of the server waits for the stream.
class ResponseStream {
 public:
  // Serves a stream whose body's chunks go out with `write`, and whose connection `hand_off`
  // gives away.
  ResponseStream(std::function<bool(std::string_view)> write,
                 std::function<HandedConnection()> hand_off)
      : m_write(std::move(write)), m_hand_off(std::move(hand_off)) {}

  // Writes bytes of the body (the stream's preamble) as one HTTP chunk, before the connection is
  // handed off; false if the client went away.
  bool write(std::string_view bytes) const { return m_write(bytes); }

  // Takes the connection over: from now on the server neither reads, writes nor closes it, and
  // it is no longer one of its connections(). What the stream writes next it writes in the
  // body's chunked framing, and it ends the body ("0\r\n\r\n") before it closes.
  HandedConnection hand_off() const { return m_hand_off(); }

 private:
  std::function<bool(std::string_view)> m_write;
  std::function<HandedConnection()> m_hand_off;
};

// An HTTP server with livechat's defaults over cpp-httplib: a thread per connection while it
// has requests (a stream's connection is handed off once its head is written), a real backlog,
// SO_REUSEADDR only (a busy port is an error), TCP_NODELAY, CORS and JSON errors.
class HttpServer {
 public:
  explicit HttpServer(HttpServerOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Answers a request (routes are registered before start()).
  using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;

  // Registers a GET route.
  void get(const std::string& path, Handler handler);

  // Answers a POST request, given its whole body.
  using BodyHandler =
      std::function<void(const httplib::Request&, httplib::Response&, const std::string& body)>;

  // Answers a POST request whose body was rejected, given why.
  using RejectionHandler =
      std::function<void(const httplib::Request&, httplib::Response&, const wire::ApiError& error)>;

  // Decides from a request's head alone whether its body may be read at all; an error rejects
  // it unread (and closes the connection, since its body is still on it).
  using Gate = std::function<std::optional<wire::ApiError>(const httplib::Request&)>;

  // Holds what a POST route does before it reads a body, and instead of it.
  struct PostOptions {
    // Answers a body that cannot be read whole (too large, too slow) or that the gate rejected;
    // it must answer. Without it such a body is answered with its error.
    RejectionHandler rejected;
    // Checked before the body is read (a token, say), so that nobody unauthorised makes the
    // server read and hold a large body.
    Gate gate;
  };

  // Registers a POST route that takes its body as it is, whatever the Content-Type says (a bare
  // `curl -d` sends form encoding, which cpp-httplib would otherwise cap at 8 KiB and parse).
  void post(const std::string& path, BodyHandler handler, PostOptions options = {});

  // What a stream route's handler opens: run on the connection's thread once the response's
  // head is written. It writes the stream's first bytes and hands the connection off
  // (ResponseStream::hand_off); if it returns without, the response ends and the connection
  // closes.
  using StreamBody = std::function<void(const ResponseStream&)>;

  // Answers a stream request: its headers set and the stream's body returned, or an error set
  // on the response and an empty body returned.
  using StreamHandler = std::function<StreamBody(const httplib::Request&, httplib::Response&)>;

  // Registers a GET route that answers with a chunked stream of `content_type`.
  void stream(const std::string& path, std::string content_type, StreamHandler handler);

  // Hears of a request rejected from its head alone.
  using RejectionObserver = std::function<void(const std::string& method, const std::string& path,
                                               const wire::ApiError& error)>;

  // Registers what hears of each request rejected from its head alone, before it was routed (a
  // body over max_body_bytes), so that a service counts it with its other rejections.
  void on_rejected(RejectionObserver observer);

  // Binds and starts accepting; returns the bound port (useful with port 0).
  wire::Result<int> start();

  // Serves one connected socket on the calling thread until the connection ends, then closes
  // it: the connection loop without the listener (a fuzz target feeds it a socket pair).
  void serve_socket(int fd);

  // Stops accepting, lets open connections finish for the drain timeout, then cuts them.
  void stop();

  // Tells whether stop() has begun.
  bool stopping() const { return m_stopping.load(); }

  // Returns how many connections are open (streams handed off left out), idle ones included.
  std::size_t connections() const { return m_connections.load(); }

  // Returns how many kept-alive connections wait for their next request without a thread.
  std::size_t idle_connections() const;

  // Returns the address of the client a request came from (see trust_proxy), for per-client
  // limits.
  std::string client_address(const httplib::Request& req) const;

  // Adds the latency histogram of the requests it answered (streams left out), by method and
  // path, labelled with `service`.
  void render_request_metrics(wire::metrics::Text& text, std::string_view service) const;

  // Replaces the certificate and key new connections get (existing ones keep theirs); only on a
  // server that started with TLS.
  void set_tls(std::shared_ptr<wire::TlsContext> tls);

  // Returns the address it listens on, like "http://0.0.0.0:8080" (https:// with TLS).
  std::string address() const;

 private:
  class Backend;

  // Serves one request to the route table while it is still empty, on the constructing thread:
  // cpp-httplib builds its function-local statics (the methods its request line parser knows,
  // the Range header's regex) on first use, under a guard that TSan cannot see in an
  // uninstrumented library; built here, before any connection thread exists, they are seen to
  // be built before every connection reads them, so the TSan run needs no suppression for them.
  void warm_up();
  void accept_loop();
  // One open connection: its socket, TLS session and stream (server.cpp).
  struct Connection;
  // What a connection's thread starts on: a new socket, or an idle connection's next request.
  struct Start;
  // How serving a connection's requests ended.
  enum class Served { close, linger, park, handed_off };
  void spawn_connection(int fd);
  // Starts a thread on `start`; false (and `start` back) if none could be made.
  bool spawn(std::unique_ptr<Start>& start);
  // Accepts TLS on a new socket, then serves it.
  void run_connection(int fd, bool may_park);
  // Serves a connection's requests until it closes, is handed off or goes idle (then parks).
  void serve_connection(std::unique_ptr<Connection> connection, bool may_park);
  // Puts an idle connection in the idle set, where the idle loop wakes it on its next request.
  void park(std::unique_ptr<Connection> connection);
  // Watches the idle set: a connection whose next request arrives gets a thread again, one that
  // hangs up or outstays the keep-alive timeout is closed, and all of them at stop().
  void idle_loop();
  // Closes a connection (draining what its client still sends first, with `linger`).
  void close_connection(Connection& connection, bool linger);
  // Configures cpp-httplib: timeouts, limits, and the headers and JSON errors of every answer.
  void configure_backend();
  // Serves the requests of one connection in turn: linger when it ends on a rejected request,
  // whose sender may still be writing; park when it went quiet and `may_park`.
  Served serve_requests(ConnectionStream& stream, bool may_park);
  // Answers a request its route's gate rejects (closing the connection); false if it passes.
  static bool reject_at_gate(const PostOptions& options, const httplib::Request& req,
                             httplib::Response& res);
  // Decides what a request that asks "Expect: 100-continue" hears: 100, or its gate's rejection.
  int expect_continue(const httplib::Request& req, httplib::Response& res) const;
  // Answers a request whose body is over the limit, unread, and counts it.
  void reject_body(ConnectionStream& stream, const wire::RequestHead& request);
  // Adds a request's time to the latency histogram of its method and path.
  void observe(const std::string& method, const std::string& path, double seconds);
  // Answers a request cut off by a limit before cpp-httplib could answer it.
  void answer_breach(ConnectionStream& stream);
  // Does the TLS handshake within the request timeout; null if it failed (the socket stays open).
  ssl_st* accept_tls(int fd);
  static void* connection_main(void* arg);
  // Gives a stream's connection away: out of the open set (before its socket can be closed and
  // its number reused), and the connection's thread leaves it alone.
  HandedConnection hand_off(ConnectionStream& stream);

  // Closes the connection of the request being answered on the calling thread once its answer
  // is written, and says so in the answer ("Connection: close").
  static void close_after(httplib::Response& response);
  // Times a request from routing to its answer and logs it at debug.
  void finished(const httplib::Request& req, const httplib::Response& res);

  HttpServerOptions m_options;
  mutable std::mutex m_tls_mutex;  // guards m_options.tls, which set_tls() replaces
  bool m_tls_on = false;           // it serves HTTPS (fixed at construction)
  std::unique_ptr<StreamLimits> m_limits;
  std::unique_ptr<Backend> m_backend;
  RejectionObserver m_on_rejected;
  std::map<std::string, PostOptions> m_gates;  // post routes with a gate, by path
  mutable std::mutex m_latency_mutex;
  std::map<std::pair<std::string, std::string>, std::unique_ptr<wire::metrics::Histogram>>
      m_latency;
  int m_listen_fd = -1;
  int m_wake_fd = -1;
  int m_port = 0;
  std::thread m_acceptor;
  int m_idle_epoll = -1;
  std::thread m_idler;
  std::map<int, std::unique_ptr<Connection>> m_parked;  // by socket; guarded by m_mutex
  std::atomic<bool> m_stopping{false};
  std::atomic<std::size_t> m_connections{0};
  mutable std::mutex m_mutex;
  std::condition_variable m_drained;
  std::map<int, std::uint64_t> m_open;  // socket -> its cookie
  std::size_t m_threads = 0;            // connection threads running (guarded by m_mutex)
  std::chrono::steady_clock::time_point m_last_emfile_warning;
};

// Answers with livechat's JSON error body and the status that goes with it; a 401 also asks
// for a Bearer token (WWW-Authenticate).
void send_error(httplib::Response& response, const wire::ApiError& error);

// Answers with a JSON body and a status.
void send_json(httplib::Response& response, int status, const std::string& body);

}  // namespace livechat::server::http
