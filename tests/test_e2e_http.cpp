// End to end over plain HTTP: a real `livechat serve` on loopback ports.
#include <httplib.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>
#include <vector>

#include "tests/support/helpers.hpp"
#include "tests/support/process.hpp"
#include "tests/support/raw_connection.hpp"
#include "tests/support/sse_client.hpp"

using namespace livechat::test;
using json = nlohmann::json;

namespace {

httplib::Result post(int port, const std::string& path, const std::string& body,
                     const std::string& type = "application/json") {
  httplib::Client client("127.0.0.1", port);
  return client.Post(path.c_str(), body, type.c_str());
}

json body_of(const httplib::Result& result) { return json::parse(result->body); }

void check_json_error(const httplib::Result& result, int status, const std::string& code) {
  REQUIRE(result);
  CHECK(result->status == status);
  CHECK(result->get_header_value("Content-Type") == "application/json");
  auto body = json::parse(result->body, nullptr, false);
  REQUIRE(body.is_object());
  CHECK(body["code"] == code);
  CHECK(!body["error"].get<std::string>().empty());
}

}  // namespace

TEST_CASE("message service over HTTP", "[e2e]") {
  auto server = start_serve();
  int port = server.port("message");

  SECTION("POST /messages answers 201 with the stored message") {
    auto result = post(port, "/messages", R"({"content":"Hello, world!","user":"John Doe"})");
    REQUIRE(result);
    CHECK(result->status == 201);
    auto m = body_of(result);
    CHECK(m["content"] == "Hello, world!");
    CHECK(m["user"] == "John Doe");
    CHECK(m["room"] == "general");
    CHECK(m["status"] == "sent");
    CHECK(std::regex_match(m["id"].get<std::string>(), std::regex(R"(\d{14}\.\d{6})")));
    CHECK(std::regex_match(m["timestamp"].get<std::string>(),
                           std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)")));
  }

  SECTION("a chunked post whose size lines, data and trailer arrive apart is taken whole") {
    // The first chunk grows the server's buffer past what it keeps; each piece after it comes
    // in a segment of its own (a pause between them: there is nothing to wait for instead).
    const std::string first = R"({"content":"in pieces")" + std::string(70'000, ' ');
    char size[16];
    std::snprintf(size, sizeof size, "%zx", first.size());
    RawConnection connection(port);
    const std::vector<std::string> pieces = {
        "POST /messages HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
        std::string(size) + "\r\n",
        first,
        "\r\n",
        "1\r\n",
        "}",
        "\r\n",
        "0\r\n",
        "X-Trailer: yes\r\n",
        "\r\n"};
    for (const auto& piece : pieces) {
      REQUIRE(connection.send(piece));
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    connection.read_responses(1);
    auto responses = connection.responses();
    REQUIRE(responses.size() == 1);
    CHECK(responses[0].status == 201);
    CHECK(json::parse(responses[0].body)["content"] == "in pieces");
  }

  SECTION("a bare curl -d (form encoded) body is taken as JSON, also past 8 KiB") {
    std::string content(20'000, 'a');
    auto result = post(port, "/messages", json{{"content", content}}.dump(),
                       "application/x-www-form-urlencoded");
    REQUIRE(result);
    CHECK(result->status == 201);
    CHECK(body_of(result)["content"] == content);
  }

  SECTION("ids increase in the order messages are accepted") {
    std::string previous;
    for (int i = 0; i < 50; ++i) {
      auto id = body_of(post(port, "/messages", R"({"content":"x"})"))["id"].get<std::string>();
      CHECK(id > previous);
      previous = id;
    }
  }

  SECTION("bad input gets a JSON 4xx and the service stays up") {
    check_json_error(post(port, "/messages", "{not json"), 400, "bad_json");
    check_json_error(post(port, "/messages", R"({"content":""})"), 400, "bad_content");
    check_json_error(post(port, "/messages", R"({"content":"  \n\t "})"), 400, "bad_content");
    check_json_error(post(port, "/messages", R"({"user":"ann"})"), 400, "bad_content");
    check_json_error(post(port, "/messages", R"({"content":42})"), 400, "bad_content");
    check_json_error(post(port, "/messages", R"({"content":["a"]})"), 400, "bad_content");
    check_json_error(post(port, "/messages", R"({"content":"hi","user":7})"), 400, "bad_user");
    check_json_error(
        post(port, "/messages", R"({"content":"hi","user":")" + std::string(129, 'u') + "\"}"), 400,
        "bad_user");
    check_json_error(post(port, "/messages", R"([{"content":"hi"}])"), 400, "bad_request");
    check_json_error(post(port, "/messages", R"("hi")"), 400, "bad_request");
    check_json_error(post(port, "/messages", std::string(2 * 1024 * 1024, ' ')), 413, "too_large");
    check_json_error(post(port, "/messages", json{{"content", std::string(70'000, 'a')}}.dump()),
                     413, "too_large");
    check_json_error(post(port, "/messages", std::string(100'000, '[') + std::string(100'000, ']')),
                     400, "bad_json");
    check_json_error(post(port, "/messages", "{\"content\":\"bad \xC3\x28 utf8\"}"), 400,
                     "bad_json");
    check_json_error(post(port, "/messages", R"({"content":"hi","room":"no spaces"})"), 400,
                     "bad_room");
    check_json_error(post(port, "/messages", R"({"content":"hi","room":""})"), 400, "bad_room");
    check_json_error(
        post(port, "/messages", R"({"content":"hi","room":")" + std::string(65, 'r') + "\"}"), 400,
        "bad_room");
    httplib::Client client("127.0.0.1", port);
    check_json_error(client.Get("/nowhere"), 404, "not_found");
    check_json_error(client.Get("/messages?limit=0"), 400, "bad_request");
    // Still up, and still accepting.
    auto health = client.Get("/health");
    REQUIRE(health);
    CHECK(health->status == 200);
    CHECK(body_of(health)["rejected"].get<int>() >= 15);
    CHECK(post(port, "/messages", R"({"content":"still here"})")->status == 201);
  }

  SECTION("GET /health says which service it is") {
    httplib::Client client("127.0.0.1", port);
    auto result = client.Get("/health");
    REQUIRE(result);
    CHECK(result->status == 200);
    CHECK(body_of(result)["status"] == "ok");
    CHECK(body_of(result)["service"] == "message");
  }

  SECTION("GET / serves the page pointed at this deployment's notification service") {
    httplib::Client client("127.0.0.1", port);
    auto result = client.Get("/");
    REQUIRE(result);
    CHECK(result->status == 200);
    CHECK(result->get_header_value("Content-Type").rfind("text/html", 0) == 0);
    CHECK(result->body.find("<title>") != std::string::npos);
    CHECK(result->body.find("window.LIVECHAT_SERVER_CONFIG = {\"notify_url\":\"http://localhost:" +
                            std::to_string(server.port("notification")) + "\"}") !=
          std::string::npos);
    // ...and allowed to run its own inline code and reach this deployment's services, no more.
    auto policy = result->get_header_value("Content-Security-Policy");
    CAPTURE(policy);
    CHECK(policy.find("default-src 'none'; script-src 'sha256-") != std::string::npos);
    CHECK(policy.find("connect-src 'self' http://localhost:" +
                      std::to_string(server.port("notification")) + " ") != std::string::npos);
    CHECK(policy.find("frame-ancestors 'none'") != std::string::npos);
    CHECK(policy.find("unsafe") == std::string::npos);
    CHECK(result->get_header_value("X-Frame-Options") == "DENY");
  }

  SECTION("CORS: preflights are answered and responses carry Allow-Origin") {
    httplib::Client client("127.0.0.1", port);
    httplib::Request preflight;
    auto result = client.Options("/messages", {{"Origin", "http://example.test"},
                                               {"Access-Control-Request-Method", "POST"}});
    REQUIRE(result);
    CHECK(result->status == 204);
    CHECK(result->get_header_value("Access-Control-Allow-Origin") == "*");
    CHECK(result->get_header_value("Access-Control-Allow-Methods").find("POST") !=
          std::string::npos);
    auto posted = post(port, "/messages", R"({"content":"x"})");
    CHECK(posted->get_header_value("Access-Control-Allow-Origin") == "*");
    check_json_error(post(port, "/messages", "nope"), 400, "bad_json");
    CHECK(post(port, "/messages", "nope")->get_header_value("Access-Control-Allow-Origin") == "*");
  }

  SECTION("GET /messages returns history oldest first, by room, after and before an id") {
    std::vector<std::string> ids;
    for (int i = 0; i < 5; ++i) {
      std::string room = i % 2 == 0 ? "even" : "odd";
      ids.push_back(body_of(post(
          port, "/messages", json{{"content", std::to_string(i)}, {"room", room}}.dump()))["id"]);
    }
    httplib::Client client("127.0.0.1", port);
    auto all = body_of(client.Get("/messages?limit=3"));
    REQUIRE(all.size() == 3);
    CHECK(all[0]["id"] == ids[2]);
    CHECK(all[2]["id"] == ids[4]);
    auto even = body_of(client.Get("/messages?room=even"));
    REQUIRE(even.size() == 3);
    CHECK(even[1]["content"] == "2");
    auto after = body_of(client.Get(("/messages?after=" + ids[1]).c_str()));
    REQUIRE(after.size() == 3);
    CHECK(after[0]["id"] == ids[2]);
    auto before = body_of(client.Get(("/messages?limit=1&before=" + ids[1]).c_str()));
    REQUIRE(before.size() == 1);
    CHECK(before[0]["id"] == ids[0]);
  }
}

TEST_CASE("notification service over HTTP", "[e2e]") {
  // --expose-notify: the sections post to /notify themselves.
  auto server = start_serve({"--max-clients", "3", "--expose-notify"});
  int notify = server.port("notification");
  int message = server.port("message");

  SECTION("a stream opens at once with retry and connected, then gets each message") {
    SseClient client(notify, "/events?client_id=alice", {{"Accept-Encoding", "gzip, br"}});
    REQUIRE(client.wait_connected());
    CHECK(client.status() == 200);
    CHECK(client.header("Content-Type") == "text/event-stream");
    CHECK(client.header("Cache-Control") == "no-cache");
    CHECK(client.header("X-Accel-Buffering") == "no");
    CHECK(client.header("Content-Encoding").empty());
    CHECK(client.header("Access-Control-Allow-Origin") == "*");
    CHECK(client.raw().rfind("retry: ", 0) == 0);
    CHECK(json::parse(client.events().front().data)["client_id"] == "alice");

    auto posted = body_of(post(message, "/messages", R"({"content":"hi","user":"bob"})"));
    REQUIRE(client.wait_messages(1));
    auto event = client.messages().front();
    CHECK(event.id == posted["id"]);
    auto data = json::parse(event.data);
    CHECK(data["content"] == "hi");
    CHECK(data["user"] == "bob");
    CHECK(data["type"] == "message");
    CHECK(data["timestamp"] == posted["timestamp"]);
  }

  SECTION("a stream gets only the rooms it asked for") {
    SseClient ops(notify, "/events?room=ops,dev");
    REQUIRE(ops.wait_connected());
    for (const char* room : {"general", "ops", "random", "dev"}) {
      auto posted = post(message, "/messages", json{{"content", room}, {"room", room}}.dump());
      REQUIRE(posted);
      REQUIRE(posted->status == 201);
    }
    REQUIRE(ops.wait_messages(2));
    auto got = ops.messages();
    CHECK(json::parse(got[0].data)["room"] == "ops");
    CHECK(json::parse(got[1].data)["room"] == "dev");
  }

  SECTION("POST /notify takes one notification or an array, in order") {
    SseClient client(notify, "/events");
    REQUIRE(client.wait_connected());
    auto one = post(notify, "/notify", R"({"id":"n1","content":"one","type":"message"})");
    REQUIRE(one);
    CHECK(one->status == 200);
    auto many =
        post(notify, "/notify", R"([{"id":"n2","content":"two"},{"id":"n3","content":"three"}])");
    CHECK(many->status == 200);
    REQUIRE(client.wait_messages(3));
    auto got = client.messages();
    CHECK(got[0].id == "n1");
    CHECK(got[1].id == "n2");
    CHECK(got[2].id == "n3");
    check_json_error(post(notify, "/notify", R"({"content":"no id"})"), 400, "bad_id");
    // An id goes out as an `id:` line: one with a line break could forge events.
    check_json_error(
        post(notify, "/notify", json{{"id", "x\nevent: reset\ndata: {}\n\nid: y"}}.dump()), 400,
        "bad_id");
    check_json_error(post(notify, "/notify", json{{"id", std::string(129, 'i')}}.dump()), 400,
                     "bad_id");
    check_json_error(post(notify, "/notify", "[1,2]"), 400, "bad_request");
  }

  SECTION("health counts connected clients; beyond --max-clients a stream gets a JSON 503") {
    httplib::Client health("127.0.0.1", notify);
    std::vector<std::unique_ptr<SseClient>> clients;
    for (int i = 0; i < 3; ++i) {
      clients.push_back(std::make_unique<SseClient>(notify, "/events"));
      REQUIRE(clients.back()->wait_connected());
    }
    // A stream is counted once its subscription is in place, just after `connected` is sent.
    REQUIRE(eventually([&] { return body_of(health.Get("/health"))["clients"] == 3; }));
    CHECK(body_of(health.Get("/health"))["service"] == "notify");
    auto refused = health.Get("/events");
    check_json_error(refused, 503, "too_many_clients");
    clients.pop_back();
    CHECK(eventually([&] { return body_of(health.Get("/health"))["clients"] == 2; }));
  }

  SECTION("a bad room list gets a JSON 400") {
    httplib::Client client("127.0.0.1", notify);
    check_json_error(client.Get("/events?room=a,,b"), 400, "bad_room");
  }
}
