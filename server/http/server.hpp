#pragma once

#include <atomic>
#include <chrono>
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

// How an HTTP server listens and what it allows; the defaults fit a chat service.
struct HttpServerOptions {
  std::string host = "0.0.0.0";
  int port = 0;
  // Bodies are chat messages or small batches of them; anything larger is rejected with a 413.
  std::size_t max_body_bytes = 1024 * 1024;
  // Thousands of clients reconnect at once after a restart: the listen queue holds them.
  int backlog = 4096;
  // The event-loop threads that own every connection (each serves its share through epoll):
  // 0 is one per core.
  std::size_t loop_threads = 0;
  // Origins allowed by CORS; "*" allows any (the page also works from file://).
  std::vector<std::string> allowed_origins = {"*"};
  // A request that has begun may pause this long between its bytes; an answer the client does
  // not read for this long closes its connection.
  std::chrono::seconds read_timeout{5};
  std::chrono::seconds write_timeout{5};
  // A kept-alive connection (or a new one) that sends no request for this long is closed.
  std::chrono::seconds keep_alive_timeout{5};
  // A request must arrive whole (request line, headers and body) within this, or it gets a 408
  // and its connection closes, however its bytes trickle in.
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

// A connection a stream route took over: its socket (which does not block) and, on HTTPS, its
// TLS session, with what the server had not yet written of the response (its head and the
// stream's first bytes), which the taker writes first. Whoever takes it closes both.
struct HandedConnection {
  int fd = -1;
  ssl_st* ssl = nullptr;
  std::string unwritten;
};

// The connection of a streamed response, given to its stream route's body: the body writes the
// stream's first bytes, then takes the connection over, so that no thread of the server waits
// for the stream.
class ResponseStream {
 public:
  // Serves a stream whose body's chunks go out with `write`, and whose connection `hand_off`
  // gives away.
  ResponseStream(std::function<bool(std::string_view)> write,
                 std::function<HandedConnection()> hand_off)
      : m_write(std::move(write)), m_hand_off(std::move(hand_off)) {}

  // Adds bytes of the body (the stream's preamble) as one HTTP chunk, before the connection is
  // handed off; false if the client went away.
  bool write(std::string_view bytes) const { return m_write(bytes); }

  // Takes the connection over: from now on the server neither reads, writes nor closes it, and
  // it is no longer one of its connections(). The taker writes HandedConnection::unwritten
  // first; what the stream writes next it writes in the body's chunked framing, and it ends
  // the body ("0\r\n\r\n") before it closes.
  HandedConnection hand_off() const { return m_hand_off(); }

 private:
  std::function<bool(std::string_view)> m_write;
  std::function<HandedConnection()> m_hand_off;
};

class EventLoop;

// The answer to a request whose handler answers later (once a commit is done, say): called
// once, from any thread, with the response. The connection reads no further request until
// then. A Reply dropped without being called answers a 500, so no client waits forever.
class Reply {
 public:
  void operator()(httplib::Response response) const;

  // Answers with what `build` writes into the response, run on the loop's thread: the work of
  // making an answer (its JSON) is the loop's, not the calling thread's.
  void build(std::function<void(httplib::Response&)> build) const;

  // What a Reply answers through (server/http only).
  struct Target;
  explicit Reply(std::shared_ptr<Target> target) : m_target(std::move(target)) {}

 private:
  void send(httplib::Response response, std::function<void(httplib::Response&)> build) const;

  std::shared_ptr<Target> m_target;
};

// livechat's HTTP/1.1 server: a few event-loop threads (one per core) own every connection
// through epoll, read each request whole within its limits with the strict head reader
// (wire/http_head), and hand it to its route; a kept-alive connection waits in epoll, a stream's
// connection is handed off once its head is written, and an answer given later (Reply) goes
// out from the loop. Handlers see cpp-httplib's Request and Response, used as plain data: its
// server is not used. Every answer carries CORS and security headers; every error is JSON.
class HttpServer {
 public:
  explicit HttpServer(HttpServerOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Answers a request (routes are registered before start()); runs on an event loop's thread,
  // so it must not wait.
  using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;

  // Registers a GET route (HEAD is answered by it too, without the body).
  void get(const std::string& path, Handler handler);

  // Answers a POST request, given its whole body.
  using BodyHandler =
      std::function<void(const httplib::Request&, httplib::Response&, const std::string& body)>;

  // Answers a POST request later, through `reply`, given its whole body.
  using DeferredBodyHandler =
      std::function<void(const httplib::Request&, const std::string& body, Reply reply)>;

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
  // `curl -d` sends form encoding).
  void post(const std::string& path, BodyHandler handler, PostOptions options = {});

  // Registers a POST route that answers later, through its Reply.
  void post_deferred(const std::string& path, DeferredBodyHandler handler,
                     PostOptions options = {});

  // Registers a route of another method with a body (PUT, PATCH, DELETE) that answers later; a
  // `path` ending in "/" matches every longer path under it (the handler reads the rest).
  void deferred(const std::string& method, const std::string& path, DeferredBodyHandler handler,
                PostOptions options = {});

  // What a stream route's handler opens: run on the loop once the response's head is ready. It
  // writes the stream's first bytes and hands the connection off (ResponseStream::hand_off);
  // if it returns without, the response ends and the connection closes.
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
  // it: one event loop of its own without the listener (a fuzz target feeds it a socket pair).
  void serve_socket(int fd);

  // Stops accepting, lets open connections finish for the drain timeout, then cuts them.
  void stop();

  // Tells whether stop() has begun.
  bool stopping() const { return m_stopping.load(); }

  // Returns how many connections are open (streams handed off left out), idle ones included.
  std::size_t connections() const;

  // Returns how many kept-alive connections wait for their next request (as last counted, a
  // few times a second).
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
  friend class EventLoop;

  // One route: what a path answers, by kind.
  struct Route {
    Handler get;
    BodyHandler post;
    DeferredBodyHandler deferred;
    StreamHandler stream;
    std::string content_type;  // of a stream
    PostOptions options;
  };

  // Returns the route of a method and path, or null.
  const Route* route(std::string_view method, std::string_view path) const;
  // Returns the certificate and key a new connection gets.
  std::shared_ptr<wire::TlsContext> tls_context() const;
  // Adds a request's time to the latency histogram of its method and path.
  void observe(const std::string& method, const std::string& path, double seconds);

  HttpServerOptions m_options;
  mutable std::mutex m_tls_mutex;  // guards m_options.tls, which set_tls() replaces
  bool m_tls_on = false;           // it serves HTTPS (fixed at construction)
  RejectionObserver m_on_rejected;
  std::map<std::string, Route, std::less<>> m_get_routes;      // GET and stream routes, by path
  std::map<std::string, Route, std::less<>> m_post_routes;     // by "METHOD /path"
  std::vector<std::pair<std::string, Route>> m_prefix_routes;  // by "METHOD /prefix/"
  mutable std::mutex m_latency_mutex;
  std::map<std::pair<std::string, std::string>, std::unique_ptr<wire::metrics::Histogram>>
      m_latency;
  int m_listen_fd = -1;
  int m_port = 0;
  std::atomic<bool> m_stopping{false};
  std::atomic<std::uint64_t> m_accepted{0};  // spreads new connections over the loops
  std::vector<std::unique_ptr<EventLoop>> m_loops;
  std::vector<std::thread> m_threads;
};

// Answers with livechat's JSON error body and the status that goes with it; a 401 also asks
// for a Bearer token (WWW-Authenticate).
void send_error(httplib::Response& response, const wire::ApiError& error);

// Answers with a JSON body and a status.
void send_json(httplib::Response& response, int status, const std::string& body);

}  // namespace livechat::server::http
