// server::http::HttpServer's event loop, serving one connection, fed whole request byte streams
// over a socket pair, as a client would send them: never more answers than request heads, nothing
// after an answer that closes the connection, every answer whole, and never a 500.
#include <sys/socket.h>
#include <unistd.h>

#include <httplib.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "server/http/server.hpp"
#include "tests/fuzz/fuzz.hpp"

namespace {

using livechat::fuzz::check;
using namespace livechat::server::http;
using namespace livechat::wire;

// A server with the kinds of route livechat has: a GET, a POST that takes its body, one answered
// later through its Reply, and one whose gate rejects a body unread.
HttpServer& server() {
  static HttpServer* instance = [] {
    HttpServerOptions options;
    options.max_body_bytes = 2048;
    options.max_header_bytes = 2048;
    options.request_timeout = std::chrono::milliseconds(500);
    auto* s = new HttpServer(options);
    s->get("/health", [](const httplib::Request&, httplib::Response& res) {
      send_json(res, 200, R"({"status":"ok"})");
    });
    s->post("/messages", [](const httplib::Request&, httplib::Response& res,
                            const std::string& body) { send_json(res, 201, body); });
    // Answered through its Reply, as POST /messages is once its commit is done.
    s->post_deferred("/later", [](const httplib::Request&, const std::string& body, Reply reply) {
      httplib::Response res;
      send_json(res, 201, body);
      reply(std::move(res));
    });
    s->post("/notify",
            [](const httplib::Request&, httplib::Response& res, const std::string&) {
              send_json(res, 200, "{}");
            },
            {.rejected = {}, .gate = [](const httplib::Request& req) -> std::optional<ApiError> {
               if (req.get_header_value("Authorization") != "Bearer good") {
                 return ApiError{ApiErrorKind::unauthorized, "no"};
               }
               return std::nullopt;
             }});
    return s;
  }();
  return *instance;
}

std::size_t count(std::string_view text, std::string_view what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string_view::npos; at = text.find(what, at + 1)) {
    ++n;
  }
  return n;
}

// Reads one answer off the front of `out`; false if what is there is not a whole answer.
bool take_answer(std::string_view& out, int& status, bool& closes) {
  auto head_end = out.find("\r\n\r\n");
  if (out.substr(0, 9) != "HTTP/1.1 " || head_end == std::string_view::npos) {
    return false;
  }
  status = std::atoi(std::string(out.substr(9, 3)).c_str());
  std::string_view head = out.substr(0, head_end + 2);
  closes = head.find("\r\nConnection: close\r\n") != std::string_view::npos;
  std::size_t length = 0;
  if (auto at = head.find("\r\nContent-Length: "); at != std::string_view::npos) {
    length = std::strtoul(std::string(head.substr(at + 18, 20)).c_str(), nullptr, 10);
  } else if (status >= 200) {
    return false;  // every answer of these routes has a length
  }
  if (out.size() < head_end + 4 + length) {
    return false;
  }
  out.remove_prefix(head_end + 4 + length);
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  // An answer to HEAD announces a body it does not carry: the reader here cannot frame it.
  if (size > 64 * 1024 || input.find("HEAD") != std::string_view::npos) {
    return 0;
  }
  int fds[2];
  check(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0, "a socket pair");
  int buffer = 1 << 20;
  setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
  setsockopt(fds[1], SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
  check(::write(fds[0], input.data(), input.size()) == static_cast<ssize_t>(input.size()),
        "the input fits the socket");
  ::shutdown(fds[0], SHUT_WR);
  server().serve_socket(fds[1]);  // closes fds[1]

  std::string output;
  char chunk[65536];
  for (ssize_t n; (n = ::read(fds[0], chunk, sizeof chunk)) > 0;) {
    output.append(chunk, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);

  std::string_view out = output;
  std::size_t answers = 0;
  while (!out.empty()) {
    int status = 0;
    bool closes = false;
    check(take_answer(out, status, closes), "every answer is whole");
    check(status != 500, "no internal error");
    if (status >= 200) {
      ++answers;
    }
    check(!closes || out.empty(), "nothing after an answer that closes the connection");
  }
  // A head rejected before its blank line arrived is answered too, and is the last.
  check(answers <= count(input, "\r\n\r\n") + 1, "at most one answer per request head");
  return 0;
}
