// End to end: the limits on how a request arrives (its head's size, the time it takes) and on
// what a stream that does not read may hold.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <httplib.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/support/helpers.hpp"
#include "tests/support/process.hpp"
#include "tests/support/raw_connection.hpp"
#include "tests/support/sse_client.hpp"

using namespace livechat::test;
using json = nlohmann::json;

namespace {

std::string padded_request(int headers) {
  std::string request = "GET /health HTTP/1.1\r\nHost: localhost\r\n";
  for (int i = 0; i < headers; ++i) {
    request += "X-Padding-" + std::to_string(i) + ": " + std::string(100, 'p') + "\r\n";
  }
  return request + "\r\n";
}

json health(int port) {
  httplib::Client client("127.0.0.1", port);
  auto result = client.Get("/health");
  REQUIRE(result);
  return json::parse(result->body);
}

std::string post(httplib::Client& client, const std::string& content) {
  auto result = client.Post("/messages", json{{"content", content}}.dump(), "application/json");
  REQUIRE(result);
  REQUIRE(result->status == 201);
  return json::parse(result->body)["id"];
}

}  // namespace

TEST_CASE("request limits", "[e2e]") {
  SECTION("a head over --max-header-bytes gets a JSON 431 and the connection closes") {
    LivechatServer server({"serve-notify", "--port", "0", "--max-header-bytes", "4096"});
    const int port = server.port("notification");
    RawConnection small(port);
    REQUIRE(small.send(padded_request(30)));  // about 3.5 KiB
    small.read_responses(1);
    CHECK(small.status() == 200);

    RawConnection large(port);
    large.send(padded_request(40));  // about 4.6 KiB
    large.read_to_end();
    CHECK(large.ended());
    REQUIRE(large.status() == 431);
    CHECK(json::parse(large.responses().at(0).body)["code"] == "headers_too_large");
  }

  SECTION("headers trickling in past --request-timeout get a 408; others are served meanwhile") {
    LivechatServer server({"serve-notify", "--port", "0", "--request-timeout", "0.5"});
    const int port = server.port("notification");
    RawConnection slow(port);
    REQUIRE(slow.send("GET /health HTTP/1.1\r\nHost: localhost\r\n"));
    bool served_meanwhile = false;
    // A header line every 50 ms, each well within the 5 s read timeout: only the request's own
    // deadline can end this.
    for (int i = 0; i < 200 && !slow.read_some(50ms); ++i) {
      slow.send("X-Drip-" + std::to_string(i) + ": 1\r\n");
      if (i == 2) {
        httplib::Client other("127.0.0.1", port);
        auto health = other.Get("/health");
        served_meanwhile = health && health->status == 200;
      }
    }
    slow.read_to_end();
    CHECK(served_meanwhile);
    CHECK(slow.ended());
    REQUIRE(slow.status() == 408);
    CHECK(json::parse(slow.responses().at(0).body)["code"] == "request_timeout");
  }

  SECTION("a request line that stops halfway gets a 408 too; a URL over 8 KiB gets a JSON 414") {
    LivechatServer server({"serve-notify", "--port", "0", "--request-timeout", "0.5"});
    const int port = server.port("notification");
    RawConnection slow(port);
    REQUIRE(slow.send("GET /heal"));
    for (int i = 0; i < 200 && !slow.read_some(50ms); ++i) {
      slow.send("t");  // a URL without end, a byte at a time
    }
    slow.read_to_end();
    REQUIRE(slow.status() == 408);
    CHECK(json::parse(slow.responses().at(0).body)["code"] == "request_timeout");
    CHECK(slow.ended());

    httplib::Client client("127.0.0.1", port);
    auto long_url = client.Get("/health?pad=" + std::string(9000, 'u'));
    REQUIRE(long_url);
    CHECK(long_url->status == 414);
    CHECK(json::parse(long_url->body)["code"] == "uri_too_long");
  }

  SECTION("a body that stops short gets a 408, and the service takes the next message") {
    LivechatServer server({"serve", "--db", ":memory:", "--port", "0", "--notify-port", "0",
                           "--request-timeout", "0.5"});
    const int port = server.port("message");
    RawConnection stalled(port);
    REQUIRE(stalled.send(
        "POST /messages HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        "Content-Length: 100\r\n\r\n{\"content\":"));
    stalled.read_to_end();
    REQUIRE(stalled.status() == 408);
    CHECK(json::parse(stalled.responses().at(0).body)["code"] == "request_timeout");
    CHECK(stalled.ended());
    CHECK(!post_message(port, "after the stalled one").empty());

    // Asking to go on first ("Expect: 100-continue") does not stop the clock.
    RawConnection expecting(port);
    REQUIRE(expecting.send(
        "POST /messages HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        "Expect: 100-continue\r\nContent-Length: 100\r\n\r\n"));
    REQUIRE(expecting.read_some(10s));
    CHECK(expecting.received().rfind("HTTP/1.1 100", 0) == 0);
    expecting.send("{\"content\":");
    expecting.read_to_end();
    CHECK(expecting.received().find("HTTP/1.1 408") != std::string::npos);
    CHECK(expecting.ended());
  }

  SECTION("a body over --max-body-bytes gets a JSON 413; a smaller one is taken") {
    LivechatServer server({"serve", "--db", ":memory:", "--port", "0", "--notify-port", "0",
                           "--max-body-bytes", "1024"});
    httplib::Client client("127.0.0.1", server.port("message"));
    json big = {{"content", std::string(2000, 'b')}};  // within --max-message-bytes
    auto refused = client.Post("/messages", big.dump(), "application/json");
    REQUIRE(refused);
    CHECK(refused->status == 413);
    CHECK(json::parse(refused->body)["code"] == "too_large");
    json small = {{"content", std::string(900, 's')}};
    auto taken = client.Post("/messages", small.dump(), "application/json");
    REQUIRE(taken);
    CHECK(taken->status == 201);
  }

  SECTION("a connection that never sends a request is closed") {
    LivechatServer server({"serve-notify", "--port", "0"});
    RawConnection idle(server.port("notification"));
    idle.read_to_end();  // the keep-alive wait (5 s) ends it
    CHECK(idle.ended());
    CHECK(idle.received().empty());
  }
}

TEST_CASE("stream limits", "[e2e]") {
  // Heartbeat and --max-lag far off: only --max-stream-buffer can close a stream here. 256 KiB
  // leaves a reader on a loaded machine room to fall behind for a while without being closed.
  auto server = start_serve({"--max-stream-buffer", "262144", "--heartbeat", "600"});
  const int notify = server.port("notification");
  httplib::Client messages("127.0.0.1", server.port("message"));
  const std::string content(8 * 1024, 'x');

  SECTION("a stream that never reads is closed past --max-stream-buffer; a reader gets all") {
    StalledClient stalled(notify, "/events", 0);  // the kernel's own receive buffer
    SseClient reader(notify, "/events");
    REQUIRE(reader.wait_connected());
    REQUIRE(eventually([&] { return health(notify)["clients"] == 2; }));
    constexpr std::size_t k_messages = 400;  // 3.2 MB, 400 of the 10,000 events --max-lag allows
    std::vector<std::string> ids;
    for (std::size_t i = 0; i < k_messages; ++i) {
      ids.push_back(post(messages, content));
    }
    if (!reader.wait_messages(k_messages, 30s)) {
      // Says why, should it happen: a reader closed as slow, or messages missing.
      FAIL("the reader got " << reader.messages().size() << " of " << k_messages
                             << " messages; ended: " << reader.ended()
                             << "; health: " << health(notify).dump());
    }
    std::vector<std::string> got;
    for (const auto& event : reader.messages()) {
      got.push_back(event.id);
    }
    CHECK(got == ids);
    CHECK(eventually([&] { return health(notify)["closed_slow"] == 1; }));
    CHECK(eventually([&] { return stalled.closed_by_server(); }));
    CHECK(eventually([&] { return health(notify)["clients"] == 1; }));
  }

  SECTION("a resume with more than --max-stream-buffer to replay gets a reset") {
    const std::string first = post(messages, "first");
    for (int i = 0; i < 40; ++i) {  // 320 KiB after `first`
      post(messages, content);
    }
    SseClient resumed(notify, "/events", {{"Last-Event-ID", first}});
    REQUIRE(resumed.wait_connected());
    REQUIRE(eventually([&] {
      auto events = resumed.events();
      return std::any_of(events.begin(), events.end(),
                         [](const auto& e) { return e.type == "reset"; });
    }));
    for (const auto& event : resumed.events()) {
      if (event.type == "reset") {
        CHECK(json::parse(event.data)["reason"].get<std::string>().find(
                  "more to replay than a stream may buffer") != std::string::npos);
      }
    }
    CHECK(resumed.messages().empty());
  }
}
