#pragma once

// Private to server/http: the event loop that owns connections. Each loop thread has an epoll
// set with its share of the sockets (edge-triggered, registered once), the listening socket
// (shared by every loop), and an eventfd through which other threads hand it new sockets, later
// answers and the stop. A connection is a small state machine: TLS handshake, head, body,
// waiting for its answer, closing; nothing in it blocks.

#ifndef LIVECHAT_HTTP_PRIVATE
#error "server/http/event_loop.hpp is private to server/http: include server/http/server.hpp"
#endif

#include <httplib.h>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "server/http/server.hpp"

namespace livechat::server::http {

using Clock = std::chrono::steady_clock;

// The answers given later to one loop's connections, and the sockets handed to it, on their way
// from other threads; each put wakes the loop once until it takes what is there.
class ReplyBox {
 public:
  ReplyBox();
  ~ReplyBox();
  ReplyBox(const ReplyBox&) = delete;
  ReplyBox& operator=(const ReplyBox&) = delete;

  // The eventfd the loop watches.
  int fd() const { return m_fd; }

  // Queues the answer to request number `request` of connection `id`: a response, or what
  // builds it on the loop.
  void put(std::uint64_t id, std::uint64_t request, httplib::Response response,
           std::function<void(httplib::Response&)> build = {});

  // Queues a socket for the loop to serve.
  void adopt(int fd);

  // Wakes the loop.
  void wake();

  // What was queued: answers by connection, then sockets.
  struct Answer {
    std::uint64_t connection;
    std::uint64_t request;
    httplib::Response response;
    std::function<void(httplib::Response&)> build;  // run on the loop, if set
  };
  struct Taken {
    std::vector<Answer> answers;
    std::vector<int> sockets;
  };
  Taken take();

 private:
  std::mutex m_mutex;
  Taken m_queued;
  bool m_signalled = false;  // the eventfd was written since the last take()
  int m_fd = -1;
};

struct Reply::Target {
  std::weak_ptr<ReplyBox> box;
  std::uint64_t connection = 0;
  std::uint64_t request = 0;
  std::atomic<bool> sent{false};
  ~Target();
};

class EventLoop {
 public:
  // A loop of `server`'s; with `listen_fd` >= 0 it accepts from it too.
  EventLoop(HttpServer& server, int listen_fd);
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Serves until stop() and its connections are done (or cut at the drain deadline).
  void run();

  // Serves one socket on the calling thread until it closes (no listener: serve_socket).
  void serve_one(int fd);

  // Hands it a new socket, from any thread.
  void adopt(int fd) { m_box->adopt(fd); }

  // Stops accepting and keeping connections alive; those still busy get until `cut_at`.
  void stop(Clock::time_point cut_at);

  std::size_t open() const { return m_open.load(); }
  std::size_t idle() const { return m_idle.load(); }

 private:
  struct Connection;
  enum class Step { more, wait, gone };

  void add(int fd);
  void accept_some();
  void dispatch(std::uint64_t id, std::uint32_t events);
  void take_box();
  void sweep(Clock::time_point now);
  void close_all();

  // Runs a connection's state machine as far as its bytes allow.
  void drive(Connection& c);
  bool handshake(Connection& c);
  bool read_input(Connection& c);
  bool flush(Connection& c);
  Step advance(Connection& c);
  Step take_head(Connection& c);
  Step take_body(Connection& c);
  Step linger(Connection& c);
  void route(Connection& c);
  void answer_stream(Connection& c, const HttpServer::Route& r);
  void answer(Connection& c, httplib::Response& res);
  void reject_early(Connection& c, const wire::ApiError& error, std::string_view origin);
  void reject_body(Connection& c, const wire::ApiError& error);
  void prepare(Connection& c, httplib::Response& res) const;
  HandedConnection hand_off(Connection& c);
  void close(Connection& c);
  // Marks a connection gone (closed, or handed off): erased at the end of the turn.
  void retire(Connection& c);
  void finish_request(Connection& c, int status);

  HttpServer& m_server;
  const HttpServerOptions& m_options;
  int m_listen_fd;
  int m_epoll = -1;
  std::shared_ptr<ReplyBox> m_box;
  std::unordered_map<std::uint64_t, std::unique_ptr<Connection>> m_connections;
  std::vector<std::uint64_t> m_dead;        // closed this turn, erased at its end
  std::vector<std::uint64_t> m_unfinished;  // cut short this turn: driven again next turn
  std::uint64_t m_next_id = 1;              // 0 is the box, 1 the listener
  bool m_listening = false;
  Clock::time_point m_listen_again{};  // after running out of file descriptors
  Clock::time_point m_last_emfile_warning{};
  std::atomic<bool> m_stop{false};
  std::atomic<Clock::rep> m_cut_at{0};
  std::atomic<std::size_t> m_open{0};
  std::atomic<std::size_t> m_idle{0};
};

// Returns the answer written outside any route, to a request rejected before it was read whole:
// a JSON error whose connection closes after it. `allow_origin` is the
// Access-Control-Allow-Origin to send, if any.
std::string closing_error_reply(const wire::ApiError& error, std::string_view allow_origin = {});

// Returns the Access-Control-Allow-Origin an answer to `origin` gets under `allowed_origins`
// ("*" for any), or "" for none.
std::string allowed_origin(const std::vector<std::string>& allowed_origins,
                           std::string_view origin);

// Adds the CORS headers a browser needs to read a response from another origin.
void add_cors_headers(const httplib::Request& request, httplib::Response& response,
                      const std::vector<std::string>& allowed_origins);

// Adds the headers every answer carries: no MIME sniffing, no Referer sent on from a page.
void add_security_headers(httplib::Response& response);

// Returns the reason phrase of a status.
const char* reason_phrase(int status);

}  // namespace livechat::server::http
