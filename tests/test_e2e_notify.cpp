// End to end: who may post to /notify, what it takes, and what listen makes of odd ids.
#include <httplib.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/support/helpers.hpp"
#include "tests/support/process.hpp"
#include "tests/support/sse_client.hpp"
#include "wire/id.hpp"
#include "wire/token.hpp"

using namespace livechat::test;
using json = nlohmann::json;

namespace {

const std::string k_token = "n0tify";

json note(const std::string& id, const std::string& content = "hi") {
  return {{"id", id}, {"content", content}, {"user", "bob"}, {"room", "general"}};
}

// Returns a timestamp-shaped id `seconds` from now.
std::string id_in(int seconds) {
  return livechat::wire::format_id(livechat::wire::system_micros() +
                                   static_cast<std::int64_t>(seconds) * 1'000'000);
}

httplib::Result post_notify(int port, const json& body, const std::string& token = k_token) {
  httplib::Client client("127.0.0.1", port);
  httplib::Headers headers;
  if (!token.empty()) {
    headers.emplace("Authorization", "Bearer " + token);
  }
  return client.Post("/notify", headers, body.dump(), "application/json");
}

std::string code_of(const httplib::Result& result) {
  return json::parse(result->body)["code"].get<std::string>();
}

// Returns the resident memory of a process, in KiB, from /proc/<pid>/status.
long rss_kib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::stol(line.substr(6));
    }
  }
  return -1;
}

// Sends `text` on a raw socket, then reads until the server closes it (10 s at most); returns
// what arrived and whether the server closed.
std::pair<std::string, bool> exchange(int port, const std::string& text) {
  int fd = connect_loopback(port);
  REQUIRE(::send(fd, text.data(), text.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(text.size()));
  std::string received;
  bool closed = false;
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!closed && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) {
      continue;
    }
    char buffer[4096];
    ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) {
      closed = true;
    } else {
      received.append(buffer, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  return {received, closed};
}

}  // namespace

TEST_CASE("livechat serve serves POST /notify only when asked", "[e2e]") {
  SECTION("without --notify-token or --expose-notify it is a JSON 404 and nothing goes out") {
    const std::string secret = "s3cret secret";
    LivechatServer server({"serve", "--port", "0", "--notify-port", "0", "--auth-secret", secret});
    auto token = *livechat::wire::mint_token(secret, "ann", std::chrono::hours(1));
    SseClient listener(server.port("notification"), "/events?token=" + token);
    REQUIRE(listener.wait_connected());
    auto forged = post_notify(server.port("notification"), note(id_in(0), "from bob"), "");
    REQUIRE(forged);
    CHECK(forged->status == 404);
    CHECK(code_of(forged) == "not_found");
    CHECK(forged->get_header_value("Connection") == "close");

    httplib::Client message("127.0.0.1", server.port("message"));
    auto real = message.Post("/messages", {{"Authorization", "Bearer " + token}},
                             R"({"content":"real"})", "application/json");
    REQUIRE(real);
    REQUIRE(real->status == 201);
    REQUIRE(listener.wait_messages(1));
    CHECK(json::parse(listener.messages()[0].data)["content"] == "real");
  }

  SECTION("--expose-notify serves it") {
    LivechatServer server({"serve", "--port", "0", "--notify-port", "0", "--expose-notify"});
    SseClient listener(server.port("notification"), "/events");
    REQUIRE(listener.wait_connected());
    auto posted = post_notify(server.port("notification"), note("n1"), "");
    REQUIRE(posted);
    CHECK(posted->status == 200);
    REQUIRE(listener.wait_messages(1));
    CHECK(listener.messages()[0].id == "n1");
  }

  SECTION("--notify-token serves it, to holders of the token") {
    LivechatServer server(
        {"serve", "--port", "0", "--notify-port", "0", "--notify-token", k_token});
    auto refused = post_notify(server.port("notification"), note("n1"), "");
    REQUIRE(refused);
    CHECK(refused->status == 401);
    CHECK(refused->get_header_value("WWW-Authenticate") == "Bearer");
    auto posted = post_notify(server.port("notification"), note("n1"));
    REQUIRE(posted);
    CHECK(posted->status == 200);
  }
}

TEST_CASE("odd notification ids neither go out nor hide real messages", "[e2e]") {
  LivechatServer notify({"serve-notify", "--port", "0", "--notify-token", k_token});
  const int port = notify.port("notification");

  SECTION("a timestamp id over a minute ahead is refused with the whole batch; listen goes on") {
    Child listen(
        {LIVECHAT_BINARY, "listen", "--json", "--count", "3", "--url", notify.url("notification")});
    REQUIRE(listen.wait_for_err("connected"));
    auto forged = post_notify(port, json::array({note(id_in(0)), note("29991231235959.999999")}));
    REQUIRE(forged);
    CHECK(forged->status == 400);
    CHECK(code_of(forged) == "bad_id");
    // Ids that are not timestamps are still taken, and so is one a little ahead of the clock.
    const std::string ahead = id_in(30);
    for (const std::string& id : {std::string("zzzz"), ahead}) {
      auto taken = post_notify(port, note(id));
      REQUIRE(taken);
      CHECK(taken->status == 200);
    }
    // A real message, "older" than both of those ids, still prints.
    const std::string real = id_in(0);
    REQUIRE(post_notify(port, note(real))->status == 200);
    REQUIRE(listen.wait_exit(10s) == 0);
    auto lines = listen.out_lines();
    REQUIRE(lines.size() == 3);
    CHECK(json::parse(lines[0])["id"] == "zzzz");
    CHECK(json::parse(lines[1])["id"] == ahead);
    CHECK(json::parse(lines[2])["id"] == real);
  }
}

TEST_CASE("listen prints an id repeated after a reconnect once", "[e2e]") {
  const int port = free_port();
  const std::vector<std::string> args = {
      "serve-notify", "--port", std::to_string(port), "--retry", "100", "--notify-token", k_token};
  auto first = std::make_unique<LivechatServer>(args);
  Child listen({LIVECHAT_BINARY, "listen", "--json", "--count", "3", "--url",
                first->url("notification"), "--message-url",
                "http://127.0.0.1:" + std::to_string(free_port())});
  REQUIRE(listen.wait_for_err("connected"));
  const std::string one = id_in(0);
  const std::string two = id_in(1);
  const std::string three = id_in(2);
  REQUIRE(post_notify(port, note(one))->status == 200);
  REQUIRE(post_notify(port, note(two))->status == 200);
  REQUIRE(listen.wait_for_lines(2, 10s));
  REQUIRE(first->stop() == 0);
  first.reset();

  // A new instance that got them again, in another order: whether listen resumes from its log
  // or starts over after a reset, it hears `one` (and maybe `two`) a second time.
  LivechatServer second(args);
  REQUIRE(post_notify(port, json::array({note(two), note(one), note(three)}))->status == 200);
  REQUIRE(listen.wait_exit(20s) == 0);
  auto lines = listen.out_lines();
  REQUIRE(lines.size() == 3);
  CHECK(json::parse(lines[0])["id"] == one);
  CHECK(json::parse(lines[1])["id"] == two);
  CHECK(json::parse(lines[2])["id"] == three);
}

TEST_CASE("POST /notify checks its token before it reads a body", "[e2e]") {
  LivechatServer notify({"serve-notify", "--port", "0", "--notify-token", k_token});
  const int port = notify.port("notification");
  const long before = rss_kib(notify.process().pid());
  REQUIRE(before > 0);

  SECTION("a 4 MB post without the token gets its 401 unsent, and the connection closes") {
    const std::string head =
        "POST /notify HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        "Content-Length: 4000000\r\n\r\n[{\"id\":";
    for (int i = 0; i < 8; ++i) {
      auto [received, closed] = exchange(port, head);
      REQUIRE(received.rfind("HTTP/1.1 401", 0) == 0);
      CHECK(received.find("\"code\":\"unauthorized\"") != std::string::npos);
      CHECK(closed);
    }
    // Past --max-body-bytes (4 MiB) the head alone is enough to refuse it, token or not.
    const std::string huge =
        "POST /notify HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        "Content-Length: 31457280\r\n\r\n[{\"id\":";
    for (int i = 0; i < 8; ++i) {
      auto [received, closed] = exchange(port, huge);
      REQUIRE(received.rfind("HTTP/1.1 413", 0) == 0);
      CHECK(closed);
    }
    CHECK(rss_kib(notify.process().pid()) < before + 16 * 1024);
    // The service goes on.
    CHECK(post_notify(port, note("after"))->status == 200);
  }

  SECTION("a body over --max-body-bytes gets a JSON 413, with the right token") {
    LivechatServer small(
        {"serve-notify", "--port", "0", "--notify-token", k_token, "--max-body-bytes", "1024"});
    auto refused = post_notify(small.port("notification"), note("big", std::string(2000, 'b')));
    REQUIRE(refused);
    CHECK(refused->status == 413);
    CHECK(code_of(refused) == "too_large");
    auto taken = post_notify(small.port("notification"), note("small", std::string(500, 's')));
    REQUIRE(taken);
    CHECK(taken->status == 200);
  }

  SECTION("a batch the message service may send fits the default") {
    // 256 notifications, 512 KiB of content in all, every byte of it escaped as \u0001.
    json batch = json::array();
    for (int i = 0; i < 256; ++i) {
      batch.push_back(note("b" + std::to_string(i), std::string(2048, '\x01')));
    }
    REQUIRE(batch.dump().size() > 3 * 1024 * 1024);
    auto taken = post_notify(port, batch);
    REQUIRE(taken);
    CHECK(taken->status == 200);
  }
}
