#include "server/http/event_loop.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <spdlog/spdlog.h>
#include <algorithm>
#include <cerrno>
#include <cstring>

#include "wire/tls.hpp"

// One event loop: its connections' state machines, from the first byte to the close or the
// hand-off of a stream.

namespace livechat::server::http {

namespace {

constexpr std::uint64_t k_box_key = 0;
constexpr std::uint64_t k_listen_key = 1;
// How often deadlines are checked (request and keep-alive timeouts are seconds).
constexpr auto k_sweep_every = std::chrono::milliseconds(100);
// What one read asks for.
constexpr std::size_t k_read_size = 16 * 1024;
// What a connection may hold unread beyond the request it is in (pipelined requests).
constexpr std::size_t k_read_ahead = 64 * 1024;
// Empty lines passed over before a request line; more are a malformed request.
constexpr std::size_t k_max_empty_lines = 8;
// A chunk-size line, extensions included.
constexpr std::size_t k_max_chunk_line = 1024;
// After a rejected request: how long, and how much, of what its client still sends is read and
// dropped before the close (closing a socket with unread bytes resets it, and the client could
// lose the answer).
constexpr auto k_linger = std::chrono::seconds(1);
constexpr std::size_t k_max_lingered = 256 * 1024;
// State machine steps taken for one connection in a turn before the others get theirs.
constexpr int k_steps_per_turn = 256;
// Buffers grown past this (a large body or answer) are given back once empty.
constexpr std::size_t k_kept_buffer = 64 * 1024;

bool would_block(int error) { return error == EAGAIN || error == EWOULDBLOCK; }

void address_of(int fd, std::string& ip, int& port) {
  sockaddr_storage addr{};
  socklen_t length = sizeof addr;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &length) != 0) {
    return;
  }
  char text[INET6_ADDRSTRLEN] = "";
  if (addr.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(addr);
    inet_ntop(AF_INET, &v4.sin_addr, text, sizeof text);
    port = ntohs(v4.sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(addr);
    inet_ntop(AF_INET6, &v6.sin6_addr, text, sizeof text);
    port = ntohs(v6.sin6_port);
  }
  ip = text;
}

// Tells whether a comma-separated header value lists `token` (ASCII case ignored).
bool lists_token(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    auto comma = value.find(',');
    if (wire::iequals(wire::trim_ows(value.substr(0, comma)), token)) {
      return true;
    }
    if (comma == std::string_view::npos) {
      break;
    }
    value.remove_prefix(comma + 1);
  }
  return false;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

// Reads a chunk-size line (without its CRLF): hex digits, then perhaps extensions; false if it
// is not one.
bool parse_chunk_size(std::string_view line, std::uint64_t& size) {
  std::size_t digits = 0;
  size = 0;
  while (digits < line.size() && hex_digit(line[digits]) >= 0) {
    if (digits == 15) {
      return false;  // past any body this server takes
    }
    size = size * 16 + static_cast<std::uint64_t>(hex_digit(line[digits]));
    ++digits;
  }
  if (digits == 0) {
    return false;
  }
  std::string_view rest = line.substr(digits);
  if (rest.empty()) {
    return true;
  }
  // chunk-ext: BWS ";" ... ; only visible characters, spaces and tabs.
  rest = wire::trim_ows(rest);
  if (rest.empty() || rest.front() != ';') {
    return false;
  }
  return std::all_of(rest.begin(), rest.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u == '\t' || (u >= 0x20 && u != 0x7f);
  });
}

// Decodes %XX escapes (and '+' as a space, in a query).
std::string percent_decode(std::string_view text, bool plus_is_space) {
  std::string decoded;
  decoded.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%' && i + 2 < text.size() && hex_digit(text[i + 1]) >= 0 &&
        hex_digit(text[i + 2]) >= 0) {
      decoded += static_cast<char>(hex_digit(text[i + 1]) * 16 + hex_digit(text[i + 2]));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      decoded += ' ';
    } else {
      decoded += c;
    }
  }
  return decoded;
}

// Makes the request handlers see out of a head that was read whole, its headers moved out.
void fill_request(httplib::Request& req, wire::RequestHead& head, const std::string& peer,
                  int peer_port) {
  req = httplib::Request{};
  req.method = head.method;
  req.target = head.target;
  req.version = head.version;
  const std::string_view target = head.target;
  const auto query = target.find('?');
  req.path = percent_decode(target.substr(0, query), false);
  for (std::string_view rest = query == std::string_view::npos ? "" : target.substr(query + 1);
       !rest.empty();) {
    const auto amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    if (!pair.empty()) {
      const auto eq = pair.find('=');
      req.params.emplace(
          percent_decode(pair.substr(0, eq), true),
          eq == std::string_view::npos ? std::string() : percent_decode(pair.substr(eq + 1), true));
    }
    rest.remove_prefix(amp == std::string_view::npos ? rest.size() : amp + 1);
  }
  for (auto& [name, value] : head.fields) {
    req.headers.emplace(std::move(name), std::move(value));
  }
  head.fields.clear();
  req.remote_addr = peer;
  req.remote_port = peer_port;
}

// Makes `res` the answer to a handler that failed.
void internal_error(httplib::Response& res) {
  res = httplib::Response{};
  send_error(res, {wire::ApiErrorKind::internal, "internal error"});
}

// Writes a response's status line and headers (its Content-Length is the writer's to add).
void write_head(std::string& out, int status, const httplib::Headers& headers) {
  out += "HTTP/1.1 ";
  out += std::to_string(status);
  out += ' ';
  out += reason_phrase(status);
  out += "\r\n";
  for (const auto& [name, value] : headers) {
    if (wire::iequals(name, "Content-Length")) {
      continue;
    }
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
}

wire::ApiError timed_out() {
  return {wire::ApiErrorKind::request_timeout, "the request did not arrive in time"};
}

wire::ApiError body_too_large() {
  return {wire::ApiErrorKind::too_large, "request body too large"};
}

}  // namespace

struct EventLoop::Connection {
  enum class Phase { handshake, head, body, answering, closing };

  std::uint64_t id = 0;
  std::uint64_t requests = 0;  // how many it began: a later answer names the one it answers
  int fd = -1;
  SSL* ssl = nullptr;
  Phase phase = Phase::head;
  // Edge-triggered: what epoll said last, until a read or write would block.
  bool readable = true;
  bool writable = true;
  bool eof = false;     // the client sent its last byte
  bool broken = false;  // a read or write failed
  bool dead = false;    // closed or handed off; erased at the end of the turn
  bool peeked = false;  // HTTPS: its first byte was a TLS handshake
  std::string in;       // read, not yet taken
  std::size_t in_begin = 0;
  std::string out;  // to write
  std::size_t out_begin = 0;
  Clock::time_point deadline;    // of the handshake, the request, the keep-alive wait, the linger
  Clock::time_point read_at;     // the last byte of the current request
  Clock::time_point written_at;  // the last byte that went out
  bool request_begun = false;    // the current request's first byte came
  std::size_t empty_lines = 0;
  std::size_t head_scanned = 0;  // bytes of a partial head searched for its blank line
  std::size_t head_checked = 0;  // bytes of a partial head checked against the limits
  std::string peer;
  int peer_port = 0;

  // The current request.
  wire::RequestHead head;
  httplib::Request request;
  const HttpServer::Route* route = nullptr;
  std::string body;
  std::uint64_t body_wire = 0;  // body bytes taken off the wire, chunks' framing included
  enum class Chunk { size, data, data_end, trailer } chunk = Chunk::size;
  std::uint64_t chunk_left = 0;
  std::size_t trailer_bytes = 0;
  Clock::time_point routed;
  bool head_only = false;        // a HEAD: the answer carries no body
  bool keep_alive_10 = false;    // an HTTP/1.0 client asked to keep the connection
  bool close_after = false;      // it closes once the current answer is out
  bool linger_on_close = false;  // its client may still be sending: drain before the close
  bool shut = false;             // lingering: our side is shut for writing
  std::size_t lingered = 0;      // bytes read and dropped since
  bool out_started = false;      // `out` has bytes since written_at

  std::size_t buffered() const { return in.size() - in_begin; }
  bool writing() const { return out_begin < out.size(); }
  std::string_view pending() const { return std::string_view(in).substr(in_begin); }
  void consume(std::size_t n) {
    in_begin += n;
    if (in_begin == in.size()) {
      in.clear();
      in_begin = 0;
      if (in.capacity() > k_kept_buffer) {
        in.shrink_to_fit();
      }
    }
  }
};

// ---- the box ----

ReplyBox::ReplyBox() : m_fd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

ReplyBox::~ReplyBox() {
  for (int fd : m_queued.sockets) {
    ::close(fd);  // handed to a loop that is gone
  }
  if (m_fd >= 0) {
    ::close(m_fd);
  }
}

void ReplyBox::wake() {
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(m_fd, &one, sizeof one);
}

void ReplyBox::put(std::uint64_t id, std::uint64_t request, httplib::Response response,
                   std::function<void(httplib::Response&)> build) {
  bool signal = false;
  {
    std::lock_guard lock(m_mutex);
    m_queued.answers.push_back({id, request, std::move(response), std::move(build)});
    signal = !std::exchange(m_signalled, true);
  }
  if (signal) {
    wake();
  }
}

void ReplyBox::adopt(int fd) {
  bool signal = false;
  {
    std::lock_guard lock(m_mutex);
    m_queued.sockets.push_back(fd);
    signal = !std::exchange(m_signalled, true);
  }
  if (signal) {
    wake();
  }
}

ReplyBox::Taken ReplyBox::take() {
  // The eventfd first: whatever is put after it was read is taken below or signalled again.
  std::uint64_t count = 0;
  [[maybe_unused]] auto n = ::read(m_fd, &count, sizeof count);
  Taken taken;
  std::lock_guard lock(m_mutex);
  std::swap(taken, m_queued);
  m_signalled = false;
  return taken;
}

Reply::Target::~Target() {
  if (sent.load()) {
    return;
  }
  if (auto target = box.lock()) {
    httplib::Response response;
    send_error(response, {wire::ApiErrorKind::internal, "internal error"});
    target->put(connection, request, std::move(response));
  }
}

void Reply::operator()(httplib::Response response) const { send(std::move(response), {}); }

void Reply::build(std::function<void(httplib::Response&)> build) const {
  send(httplib::Response{}, std::move(build));
}

void Reply::send(httplib::Response response, std::function<void(httplib::Response&)> build) const {
  if (m_target->sent.exchange(true)) {
    return;
  }
  if (auto box = m_target->box.lock()) {
    box->put(m_target->connection, m_target->request, std::move(response), std::move(build));
  }
}

// ---- the loop ----

EventLoop::EventLoop(HttpServer& server, int listen_fd)
    : m_server(server),
      m_options(server.m_options),
      m_listen_fd(listen_fd),
      m_epoll(epoll_create1(EPOLL_CLOEXEC)),
      m_box(std::make_shared<ReplyBox>()) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = k_box_key;
  epoll_ctl(m_epoll, EPOLL_CTL_ADD, m_box->fd(), &ev);
}

EventLoop::~EventLoop() {
  close_all();
  ::close(m_epoll);
}

void EventLoop::stop(Clock::time_point cut_at) {
  m_cut_at.store(cut_at.time_since_epoch().count());
  m_stop.store(true);
  m_box->wake();
}

void EventLoop::serve_one(int fd) {
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  add(fd);
  run();
}

void EventLoop::run() {
  epoll_event events[256];
  bool stopping = false;
  auto next_sweep = Clock::now() + k_sweep_every;
  std::vector<std::uint64_t> ready;  // connections with steps left from their last turn
  for (;;) {
    for (std::uint64_t id : m_dead) {
      m_connections.erase(id);
    }
    m_dead.clear();
    if (m_listen_fd < 0 && m_connections.empty()) {
      return;  // serve_one: its connection is done
    }
    if (stopping) {
      const Clock::time_point cut_at{Clock::duration(m_cut_at.load())};
      if (m_connections.empty() || Clock::now() >= cut_at) {
        if (!m_connections.empty()) {
          spdlog::debug("cutting {} connections that did not finish", m_connections.size());
        }
        close_all();
        // Sockets another loop dealt out to this one as it stopped are closed, not left open.
        for (int fd : m_box->take().sockets) {
          ::close(fd);
        }
        return;
      }
    }
    if (!stopping && !m_stop.load() && m_listen_fd >= 0 && !m_listening &&
        Clock::now() >= m_listen_again) {
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLEXCLUSIVE;
      ev.data.u64 = k_listen_key;
      m_listening = epoll_ctl(m_epoll, EPOLL_CTL_ADD, m_listen_fd, &ev) == 0;
    }
    const int timeout = ready.empty() ? static_cast<int>(k_sweep_every.count()) : 0;
    const int n = epoll_wait(m_epoll, events, 256, timeout);
    for (int i = 0; i < n; ++i) {
      const std::uint64_t key = events[i].data.u64;
      if (key == k_box_key) {
        take_box();
      } else if (key == k_listen_key) {
        accept_some();
      } else {
        dispatch(key, events[i].events);
      }
    }
    for (std::uint64_t id : std::exchange(ready, {})) {
      dispatch(id, 0);
    }
    const auto now = Clock::now();
    if (m_stop.load() && !stopping) {
      stopping = true;
      if (m_listening) {
        epoll_ctl(m_epoll, EPOLL_CTL_DEL, m_listen_fd, nullptr);
        m_listening = false;
      }
      next_sweep = now;  // idle connections close at once
    }
    if (now >= next_sweep) {
      next_sweep = now + k_sweep_every;
      sweep(now);
    }
    ready.swap(m_unfinished);  // turns cut short go on at once, after everyone else's
  }
}

void EventLoop::close_all() {
  for (auto& [id, c] : m_connections) {
    c->broken = true;  // no close_notify into a connection being cut
    close(*c);
  }
  m_connections.clear();
  m_dead.clear();
}

void EventLoop::accept_some() {
  const std::size_t loops = m_server.m_loops.size();
  for (int i = 0; i < 64; ++i) {
    int fd = accept4(m_listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE) {
        auto now = Clock::now();
        if (now - m_last_emfile_warning > std::chrono::seconds(10)) {
          m_last_emfile_warning = now;
          spdlog::warn("out of file descriptors, new connections wait ({} open)",
                       m_server.connections());
        }
        // The listener stays readable: it is left out of the set for a moment.
        epoll_ctl(m_epoll, EPOLL_CTL_DEL, m_listen_fd, nullptr);
        m_listening = false;
        m_listen_again = now + std::chrono::milliseconds(50);
      } else if (!would_block(errno) && errno != EINTR && errno != ECONNABORTED) {
        spdlog::debug("accept failed: {}", std::strerror(errno));
      }
      return;
    }
    // Each loop gets its turn, so that connections spread evenly whoever woke.
    EventLoop& target = *m_server.m_loops[m_server.m_accepted.fetch_add(1) % loops];
    if (&target == this) {
      add(fd);
    } else {
      target.adopt(fd);
    }
  }
}

void EventLoop::add(int fd) {
  int yes = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
  auto connection = std::make_unique<Connection>();
  Connection& c = *connection;
  c.id = ++m_next_id;
  c.fd = fd;
  address_of(fd, c.peer, c.peer_port);
  const auto now = Clock::now();
  c.phase = m_server.m_tls_on ? Connection::Phase::handshake : Connection::Phase::head;
  c.deadline = now + (m_server.m_tls_on ? m_options.request_timeout
                                        : std::chrono::milliseconds(m_options.keep_alive_timeout));
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.u64 = c.id;
  if (epoll_ctl(m_epoll, EPOLL_CTL_ADD, fd, &ev) != 0) {
    spdlog::warn("cannot watch a connection: {}", std::strerror(errno));
    ::close(fd);
    return;
  }
  ++m_open;
  m_connections.emplace(c.id, std::move(connection));
  drive(c);  // its first bytes may be here already
}

void EventLoop::dispatch(std::uint64_t id, std::uint32_t events) {
  auto it = m_connections.find(id);
  if (it == m_connections.end() || it->second->dead) {
    return;
  }
  Connection& c = *it->second;
  if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) {
    c.readable = true;
  }
  if ((events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) != 0) {
    c.writable = true;
  }
  drive(c);
}

void EventLoop::take_box() {
  auto taken = m_box->take();
  for (auto& [id, request, response, build] : taken.answers) {
    auto it = m_connections.find(id);
    if (it == m_connections.end() || it->second->dead ||
        it->second->phase != Connection::Phase::answering || it->second->requests != request) {
      continue;  // gone meanwhile, or answered already
    }
    if (build) {
      try {
        build(response);
      } catch (const std::exception& e) {
        spdlog::error("an answer could not be made: {}", e.what());
        internal_error(response);
      }
    }
    prepare(*it->second, response);
    answer(*it->second, response);
    drive(*it->second);
  }
  for (int fd : taken.sockets) {
    if (m_stop.load()) {
      ::close(fd);
      continue;
    }
    add(fd);
  }
}

void EventLoop::sweep(Clock::time_point now) {
  const bool stopping = m_stop.load();
  std::size_t idle = 0;
  for (auto& [id, connection] : m_connections) {
    Connection& c = *connection;
    if (c.dead) {
      continue;
    }
    if (c.writing() && now - c.written_at > m_options.write_timeout) {
      close(c);  // its client does not read its answer
      continue;
    }
    const bool mid_request = (c.phase == Connection::Phase::head && c.request_begun) ||
                             c.phase == Connection::Phase::body;
    const bool late =
        now >= c.deadline || (mid_request && now - c.read_at >= m_options.read_timeout);
    switch (c.phase) {
      case Connection::Phase::handshake:
        if (late || stopping) {
          close(c);
        }
        break;
      case Connection::Phase::head:
        if (!c.request_begun) {
          if (!c.writing()) {
            ++idle;
          }
          if ((late || stopping) && !c.writing()) {
            close(c);  // kept alive long enough, or the server is stopping
          }
        } else if (late) {
          reject_early(c, timed_out(), "");
          drive(c);
        }
        break;
      case Connection::Phase::body:
        if (late) {
          reject_body(c, timed_out());
          drive(c);
        }
        break;
      case Connection::Phase::answering:
        break;  // its handler answers; the commit it waits for has its own bounds
      case Connection::Phase::closing:
        if (c.shut && late) {
          close(c);
        }
        break;
    }
  }
  m_idle.store(idle);
}

void EventLoop::drive(Connection& c) {
  for (int step = 0;; ++step) {
    if (step == k_steps_per_turn) {
      if (!c.dead) {
        m_unfinished.push_back(c.id);  // pipelined requests: the others get their turn first
      }
      return;
    }
    if (c.dead) {
      return;
    }
    if (c.phase == Connection::Phase::handshake) {
      if (!handshake(c)) {
        return;
      }
      continue;
    }
    if (!flush(c) || !read_input(c)) {
      close(c);
      return;
    }
    switch (advance(c)) {
      case Step::more:
        continue;
      case Step::gone:
        return;
      case Step::wait:
        if (!c.dead && !flush(c)) {
          close(c);
        }
        return;
    }
  }
}

bool EventLoop::handshake(Connection& c) {
  if (!c.peeked) {
    char first = 0;
    ssize_t n = ::recv(c.fd, &first, 1, MSG_PEEK);
    if (n < 0 && (would_block(errno) || errno == EINTR)) {
      c.readable = false;
      return false;
    }
    if (n <= 0) {
      close(c);
      return false;
    }
    if (first != 0x16) {
      // Not a TLS handshake: most likely plain HTTP, which gets an answer it can show.
      static const std::string k_reply = closing_error_reply(
          {wire::ApiErrorKind::bad_request, "this port speaks HTTPS: use an https:// URL"});
      [[maybe_unused]] auto sent = ::send(c.fd, k_reply.data(), k_reply.size(), MSG_NOSIGNAL);
      close(c);
      return false;
    }
    c.peeked = true;
    auto tls = m_server.tls_context();
    c.ssl = SSL_new(tls->get());  // holds its own reference to the context
    if (c.ssl == nullptr) {
      spdlog::warn("cannot start TLS on a connection: {}", wire::last_tls_error());
      close(c);
      return false;
    }
    SSL_set_fd(c.ssl, c.fd);
    SSL_set_accept_state(c.ssl);
    SSL_set_mode(c.ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                            SSL_MODE_RELEASE_BUFFERS);
  }
  ERR_clear_error();  // what another call left in this thread's queue is not this one's error
  int rc = SSL_accept(c.ssl);
  if (rc == 1) {
    ERR_clear_error();
    c.phase = Connection::Phase::head;
    c.deadline = Clock::now() + m_options.keep_alive_timeout;
    return true;
  }
  int error = SSL_get_error(c.ssl, rc);
  if (error == SSL_ERROR_WANT_READ) {
    c.readable = false;
    return false;
  }
  if (error == SSL_ERROR_WANT_WRITE) {
    c.writable = false;
    return false;
  }
  spdlog::debug("TLS handshake failed: {}", wire::last_tls_error());
  ERR_clear_error();
  c.broken = true;
  close(c);
  return false;
}

bool EventLoop::read_input(Connection& c) {
  char buffer[k_read_size];
  while (c.readable && !c.eof) {
    if (c.phase == Connection::Phase::closing) {
      if (!c.shut) {
        return true;  // the answer goes out first
      }
      // Lingering: what the client still sends is dropped (TLS records included, unread).
      ssize_t n = ::recv(c.fd, buffer, sizeof buffer, 0);
      if (n > 0) {
        c.lingered += static_cast<std::size_t>(n);
        if (c.lingered > k_max_lingered) {
          return false;
        }
        continue;
      }
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n < 0 && would_block(errno)) {
        c.readable = false;
        return true;
      }
      return false;  // the client is done too
    }
    std::size_t allowed = k_read_ahead;
    if (c.phase == Connection::Phase::body && !c.head.chunked) {
      allowed += c.head.content_length;
    } else if (c.phase == Connection::Phase::head) {
      allowed = std::max(allowed, m_options.max_header_bytes + k_read_size);
    }
    if (c.buffered() >= allowed) {
      return true;  // read again once what is here is taken
    }
    ssize_t n = 0;
    if (c.ssl != nullptr) {
      ERR_clear_error();
      n = SSL_read(c.ssl, buffer, static_cast<int>(sizeof buffer));
      if (n <= 0) {
        int error = SSL_get_error(c.ssl, static_cast<int>(n));
        if (error == SSL_ERROR_WANT_READ) {
          c.readable = false;
          return true;
        }
        if (error == SSL_ERROR_WANT_WRITE) {
          return true;  // a writable event brings it back
        }
        ERR_clear_error();
        if (error == SSL_ERROR_ZERO_RETURN) {
          c.eof = true;
          return true;
        }
        c.broken = true;
        c.eof = true;
        return true;
      }
    } else {
      n = ::recv(c.fd, buffer, sizeof buffer, 0);
      if (n < 0) {
        if (errno == EINTR) {
          continue;
        }
        if (would_block(errno)) {
          c.readable = false;
          return true;
        }
        c.broken = true;
        c.eof = true;
        return true;
      }
      if (n == 0) {
        c.eof = true;
        return true;
      }
    }
    c.in.append(buffer, static_cast<std::size_t>(n));
    c.read_at = Clock::now();
  }
  return true;
}

bool EventLoop::flush(Connection& c) {
  if (c.writing() && !c.out_started) {
    c.out_started = true;  // the write timeout counts from here
    c.written_at = Clock::now();
  }
  while (c.writing() && c.writable) {
    const char* data = c.out.data() + c.out_begin;
    const std::size_t size = c.out.size() - c.out_begin;
    ssize_t n = 0;
    if (c.ssl != nullptr) {
      ERR_clear_error();
      n = SSL_write(c.ssl, data, static_cast<int>(std::min<std::size_t>(size, 1 << 30)));
      if (n <= 0) {
        int error = SSL_get_error(c.ssl, static_cast<int>(n));
        if (error == SSL_ERROR_WANT_WRITE) {
          c.writable = false;
          return true;
        }
        if (error == SSL_ERROR_WANT_READ) {
          return true;  // a readable event brings it back
        }
        ERR_clear_error();
        c.broken = true;
        return false;
      }
    } else {
      n = ::send(c.fd, data, size, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) {
          continue;
        }
        if (would_block(errno)) {
          c.writable = false;
          return true;
        }
        c.broken = true;
        return false;
      }
    }
    c.out_begin += static_cast<std::size_t>(n);
    c.written_at = Clock::now();
  }
  if (!c.writing()) {
    c.out_started = false;
  }
  if (!c.writing() && !c.out.empty()) {
    c.out.clear();
    c.out_begin = 0;
    if (c.out.capacity() > k_kept_buffer) {
      c.out.shrink_to_fit();
    }
  }
  return true;
}

EventLoop::Step EventLoop::advance(Connection& c) {
  switch (c.phase) {
    case Connection::Phase::handshake:
      return Step::wait;
    case Connection::Phase::head:
      return take_head(c);
    case Connection::Phase::body:
      return take_body(c);
    case Connection::Phase::answering:
      return Step::wait;  // for its Reply
    case Connection::Phase::closing:
      return linger(c);
  }
  return Step::wait;
}

EventLoop::Step EventLoop::linger(Connection& c) {
  if (c.writing()) {
    return Step::wait;
  }
  // A connection that closes after its answer is shut for writing first, and what its client
  // still sends is read and dropped for a moment (closing a socket with unread bytes resets it,
  // and the client could lose the answer); not while the server stops.
  if (c.broken || c.eof) {
    close(c);
    return Step::gone;
  }
  if (!c.shut) {
    if (!c.linger_on_close && (m_stop.load() || c.buffered() == 0)) {
      close(c);  // nothing of the client's is left unread
      return Step::gone;
    }
    if (c.ssl != nullptr) {
      SSL_shutdown(c.ssl);  // close_notify
      ERR_clear_error();
    }
    ::shutdown(c.fd, SHUT_WR);
    c.shut = true;
    c.in.clear();
    c.in_begin = 0;
    c.deadline = Clock::now() + k_linger;
    return Step::more;  // read and drop what is there
  }
  return Step::wait;
}

EventLoop::Step EventLoop::take_head(Connection& c) {
  if (c.writing()) {
    return Step::wait;  // the last answer goes out before the next request is read
  }
  // RFC 9112 2.2: empty lines before a request line are passed over (a few).
  while (c.pending().substr(0, 2) == "\r\n" && c.empty_lines < k_max_empty_lines) {
    c.consume(2);
    ++c.empty_lines;
  }
  std::string_view pending = c.pending();
  if (pending.empty()) {
    if (c.eof) {
      close(c);
      return Step::gone;
    }
    return Step::wait;
  }
  const auto now = Clock::now();
  if (!c.request_begun) {
    c.request_begun = true;
    c.deadline = now + m_options.request_timeout;
    c.read_at = now;
  }
  wire::HeadLimits limits;
  limits.max_head_bytes = m_options.max_header_bytes;
  // A head that arrives in small pieces is not scanned again from its start for each piece:
  // the blank line is looked for in what is new, and the limits are checked again once a
  // little more has come (or the whole head has), so a trickled head costs linear time.
  const std::size_t from = c.head_scanned > 3 ? c.head_scanned - 3 : 0;
  const auto blank = pending.find("\r\n\r\n", from);
  const std::size_t size = blank == std::string_view::npos ? 0 : blank + 4;
  if (size == 0) {
    const bool recheck = c.head_scanned == 0 || pending.size() >= c.head_checked + 512 ||
                         pending.size() > m_options.max_header_bytes;
    c.head_scanned = pending.size();
    if (recheck) {
      c.head_checked = pending.size();
      if (auto error = wire::check_partial_head(pending, limits)) {
        reject_early(c, *error, "");
        return Step::more;
      }
    }
    if (c.eof) {
      close(c);  // gone before its head was whole
      return Step::gone;
    }
    return Step::wait;
  }
  auto parsed = wire::parse_head(pending.substr(0, size), limits);
  if (!parsed) {
    spdlog::debug("request rejected before it was read: {}", parsed.error().message);
    reject_early(c, parsed.error(), "");
    return Step::more;
  }
  c.head = std::move(parsed.value());
  c.empty_lines = 0;
  c.head_scanned = 0;
  c.head_checked = 0;

  // The request as handlers see it.
  fill_request(c.request, c.head, c.peer, c.peer_port);
  const httplib::Request& req = c.request;
  c.consume(size);
  ++c.requests;

  c.close_after = false;
  c.linger_on_close = false;
  c.head_only = req.method == "HEAD";
  const std::string connection = req.get_header_value("Connection");
  if (req.version == "HTTP/1.0") {
    c.keep_alive_10 = lists_token(connection, "keep-alive");
    c.close_after = !c.keep_alive_10;
  } else {
    c.keep_alive_10 = false;
    c.close_after = lists_token(connection, "close");
  }
  if (c.head.chunked) {
    // Where its body ends is found by reading it; the connection ends with it.
    c.close_after = true;
  }
  c.route = m_server.route(req.method, req.path);
  c.body.clear();
  c.body_wire = 0;
  c.chunk = Connection::Chunk::size;
  c.chunk_left = 0;
  c.trailer_bytes = 0;
  c.routed = now;

  if (c.head.content_length > m_options.max_body_bytes) {
    // Rejected unread, and counted with the service's other rejections.
    const wire::ApiError error = body_too_large();
    if (m_server.m_on_rejected) {
      m_server.m_on_rejected(req.method, req.path, error);
    }
    reject_early(c, error, c.head.origin);
    finish_request(c, 413);
    return Step::more;
  }
  if (c.route != nullptr && c.route->options.gate && req.method != "GET" && req.method != "HEAD") {
    if (auto rejection = c.route->options.gate(req)) {
      reject_body(c, *rejection);  // its body is never read
      return Step::more;
    }
  }
  const bool has_body = c.head.content_length > 0 || c.head.chunked;
  if (has_body && wire::iequals(req.get_header_value("Expect"), "100-continue")) {
    c.out += "HTTP/1.1 100 Continue\r\n\r\n";
  }
  c.phase = Connection::Phase::body;
  return Step::more;
}

EventLoop::Step EventLoop::take_body(Connection& c) {
  if (!c.head.chunked) {
    const std::uint64_t length = c.head.content_length;
    if (c.buffered() < length) {
      if (c.eof) {
        reject_body(c, {wire::ApiErrorKind::bad_request, "the request ended before its body"});
        return Step::more;
      }
      return Step::wait;
    }
    c.body.assign(c.in, c.in_begin, static_cast<std::size_t>(length));
    c.consume(static_cast<std::size_t>(length));
    route(c);
    return Step::more;
  }
  const std::uint64_t max_wire = 2 * static_cast<std::uint64_t>(m_options.max_body_bytes) + 65536;
  const wire::ApiError bad_chunk{wire::ApiErrorKind::bad_request, "a malformed chunked body"};
  for (;;) {
    std::string_view pending = c.pending();
    if (c.body_wire > max_wire) {
      reject_body(c, body_too_large());
      return Step::more;
    }
    switch (c.chunk) {
      case Connection::Chunk::size:
      case Connection::Chunk::trailer: {
        auto end = pending.find("\r\n");
        if (end == std::string_view::npos) {
          if (pending.size() > k_max_chunk_line || pending.find('\n') != std::string_view::npos) {
            reject_body(c, bad_chunk);
            return Step::more;
          }
          break;  // more bytes
        }
        // The line is checked before it is consumed: consuming may clear the buffer it is in.
        const std::string_view line = pending.substr(0, end);
        if (c.chunk == Connection::Chunk::trailer) {
          const bool last = line.empty();
          c.trailer_bytes += end + 2;
          if (!last &&
              (line.find(':') == std::string_view::npos ||
               c.trailer_bytes > m_options.max_header_bytes ||
               line.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos)) {
            reject_body(c, bad_chunk);
            return Step::more;
          }
          c.consume(end + 2);
          c.body_wire += end + 2;
          if (last) {
            route(c);
            return Step::more;
          }
          continue;
        }
        std::uint64_t size = 0;
        if (end > k_max_chunk_line || !parse_chunk_size(line, size)) {
          reject_body(c, bad_chunk);
          return Step::more;
        }
        c.consume(end + 2);
        c.body_wire += end + 2;
        if (c.body.size() + size > m_options.max_body_bytes) {
          reject_body(c, body_too_large());
          return Step::more;
        }
        c.chunk = size == 0 ? Connection::Chunk::trailer : Connection::Chunk::data;
        c.chunk_left = size;
        continue;
      }
      case Connection::Chunk::data: {
        if (pending.empty()) {
          break;
        }
        auto take = static_cast<std::size_t>(std::min<std::uint64_t>(c.chunk_left, pending.size()));
        c.body.append(pending.substr(0, take));
        c.consume(take);
        c.body_wire += take;
        c.chunk_left -= take;
        if (c.chunk_left == 0) {
          c.chunk = Connection::Chunk::data_end;
        }
        continue;
      }
      case Connection::Chunk::data_end:
        if (pending.size() < 2) {
          if (!pending.empty() && pending[0] != '\r') {
            reject_body(c, bad_chunk);
            return Step::more;
          }
          break;
        }
        if (pending.substr(0, 2) != "\r\n") {
          reject_body(c, bad_chunk);
          return Step::more;
        }
        c.consume(2);
        c.body_wire += 2;
        c.chunk = Connection::Chunk::size;
        continue;
    }
    // More bytes are needed.
    if (c.eof) {
      reject_body(c, {wire::ApiErrorKind::bad_request, "the request ended before its body"});
      return Step::more;
    }
    return Step::wait;
  }
}

void EventLoop::prepare(Connection& c, httplib::Response& res) const {
  add_security_headers(res);
  add_cors_headers(c.request, res, m_options.allowed_origins);
}

void EventLoop::route(Connection& c) {
  c.phase = Connection::Phase::answering;
  const httplib::Request& req = c.request;
  httplib::Response res;
  prepare(c, res);
  if (req.method == "OPTIONS") {
    res.status = 204;
    res.set_header("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS");
    res.set_header("Access-Control-Allow-Headers",
                   "Content-Type, Authorization, Last-Event-ID, Cache-Control, Idempotency-Key");
    res.set_header("Access-Control-Max-Age", "86400");
    answer(c, res);
    return;
  }
  const HttpServer::Route* r = c.route;
  if (r == nullptr) {
    send_error(res, wire::error_for_status(404));
    answer(c, res);
    return;
  }
  try {
    if (r->stream) {
      answer_stream(c, *r);
      return;
    }
    if (r->deferred) {
      auto target = std::make_shared<Reply::Target>();
      target->box = m_box;
      target->connection = c.id;
      target->request = c.requests;
      r->deferred(req, c.body, Reply(std::move(target)));
      return;  // answered when its Reply comes back to this loop
    }
    if (r->post) {
      r->post(req, res, c.body);
    } else {
      r->get(req, res);
    }
  } catch (const std::exception& e) {
    spdlog::error("{} {}: {}", req.method, req.path, e.what());
    internal_error(res);
    prepare(c, res);
  }
  answer(c, res);
}

void EventLoop::answer_stream(Connection& c, const HttpServer::Route& r) {
  httplib::Response res;
  prepare(c, res);
  HttpServer::StreamBody body = r.stream(c.request, res);
  if (!body || c.head_only) {
    if (body) {
      res.status = 200;
      res.set_header("Content-Type", r.content_type);
      c.close_after = true;
    }
    answer(c, res);
    return;
  }
  write_head(c.out, 200, res.headers);
  c.out += "Content-Type: " + r.content_type + "\r\nTransfer-Encoding: chunked\r\n\r\n";
  spdlog::debug("{} {} 200 from {} (stream)", c.request.method, c.request.path, c.peer);
  bool handed = false;
  ResponseStream stream(
      [&c](std::string_view bytes) {
        if (c.dead || bytes.empty()) {
          return !c.dead;
        }
        char size[24];
        int n = std::snprintf(size, sizeof size, "%zx\r\n", bytes.size());
        c.out.append(size, static_cast<std::size_t>(n));
        c.out.append(bytes);
        c.out += "\r\n";
        return true;
      },
      [this, &c, &handed] {
        handed = true;
        return hand_off(c);
      });
  try {
    body(stream);
  } catch (const std::exception& e) {
    spdlog::error("stream {}: {}", c.request.path, e.what());
  }
  if (handed || c.dead) {
    return;  // the stream's owner has the connection now
  }
  c.out += "0\r\n\r\n";  // it returned without taking the connection: the response ends
  c.close_after = true;
  c.phase = Connection::Phase::closing;
}

HandedConnection EventLoop::hand_off(Connection& c) {
  if (c.dead) {
    return {};  // handed off (or closed) already
  }
  epoll_ctl(m_epoll, EPOLL_CTL_DEL, c.fd, nullptr);
  HandedConnection handed{c.fd, c.ssl, c.out.substr(c.out_begin)};
  c.ssl = nullptr;
  retire(c);
  return handed;
}

void EventLoop::answer(Connection& c, httplib::Response& res) {
  if (res.status == -1) {
    res.status = 200;
  }
  if (m_stop.load()) {
    c.close_after = true;
  }
  if (c.close_after && !res.has_header("Connection")) {
    res.set_header("Connection", "close");
  } else if (c.keep_alive_10 && !c.close_after) {
    res.set_header("Connection", "keep-alive");
  }
  if (res.get_header_value("Connection") == "close") {
    c.close_after = true;
  }
  const bool no_body = res.status == 204 || res.status == 304 || res.status < 200;
  std::string& out = c.out;
  write_head(out, res.status, res.headers);
  if (!no_body) {
    out += "Content-Length: ";
    out += std::to_string(res.body.size());
    out += "\r\n";
  }
  out += "\r\n";
  if (!no_body && !c.head_only) {
    out += res.body;
  }
  finish_request(c, res.status);
  c.request_begun = false;
  c.body.clear();
  if (c.body.capacity() > k_kept_buffer) {
    c.body.shrink_to_fit();
  }
  c.route = nullptr;
  if (c.close_after) {
    c.phase = Connection::Phase::closing;
  } else {
    c.phase = Connection::Phase::head;
    c.deadline = Clock::now() + m_options.keep_alive_timeout;
  }
}

void EventLoop::finish_request(Connection& c, int status) {
  const auto seconds = std::chrono::duration<double>(Clock::now() - c.routed).count();
  m_server.observe(c.request.method, c.request.path, seconds);
  spdlog::debug("{} {} {} {:.2f} ms from {}", c.request.method, c.request.path, status,
                seconds * 1000, c.peer);
}

void EventLoop::reject_early(Connection& c, const wire::ApiError& error, std::string_view origin) {
  c.out += closing_error_reply(error, allowed_origin(m_options.allowed_origins, origin));
  c.close_after = true;
  c.linger_on_close = true;
  c.request_begun = false;
  c.phase = Connection::Phase::closing;
}

void EventLoop::reject_body(Connection& c, const wire::ApiError& error) {
  httplib::Response res;
  prepare(c, res);
  c.close_after = true;  // what is left of the body must not be read as a request
  c.linger_on_close = true;
  if (c.route != nullptr && c.route->options.rejected) {
    try {
      c.route->options.rejected(c.request, res, error);
    } catch (const std::exception& e) {
      spdlog::error("{} {}: {}", c.request.method, c.request.path, e.what());
      send_error(res, error);
    }
  } else {
    send_error(res, error);
  }
  answer(c, res);
}

void EventLoop::close(Connection& c) {
  if (c.dead) {
    return;
  }
  if (c.ssl != nullptr) {
    if (!c.broken && !c.shut) {
      SSL_shutdown(c.ssl);  // close_notify, if the socket takes it
    }
    ERR_clear_error();
    SSL_free(c.ssl);
    c.ssl = nullptr;
  }
  ::close(c.fd);  // leaves the epoll set with it
  retire(c);
}

void EventLoop::retire(Connection& c) {
  c.fd = -1;
  c.dead = true;
  m_dead.push_back(c.id);
  --m_open;
}

}  // namespace livechat::server::http
