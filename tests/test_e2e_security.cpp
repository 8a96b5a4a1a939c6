// End to end: what keeps livechat safe to expose (the notify token, limits).
#include <httplib.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/support/helpers.hpp"
#include "tests/support/process.hpp"
#include "tests/support/sse_client.hpp"

using namespace livechat::test;
using json = nlohmann::json;

namespace {

const std::string k_notification =
    R"({"id":"20240101120000.000001","content":"hi","user":"ann","room":"general"})";

httplib::Result post_notify(int port, const std::string& authorization = "") {
  httplib::Client client("127.0.0.1", port);
  httplib::Headers headers;
  if (!authorization.empty()) {
    headers.emplace("Authorization", authorization);
  }
  return client.Post("/notify", headers, k_notification, "application/json");
}

}  // namespace

TEST_CASE("the notify token", "[e2e]") {
  SECTION("POST /notify needs the token: missing or wrong gets a JSON 401, right gets through") {
    LivechatServer notify({"serve-notify", "--port", "0", "--notify-token", "s3cret"});
    int port = notify.port("notification");
    SseClient listener(port, "/events");
    REQUIRE(listener.wait_connected());
    for (const std::string& bad :
         {std::string(), std::string("Bearer wrong"), std::string("Bearer s3cre"),
          std::string("Basic s3cret"), std::string("Bearer s3cret2")}) {
      INFO("Authorization: " << bad);
      auto refused = post_notify(port, bad);
      REQUIRE(refused);
      CHECK(refused->status == 401);
      CHECK(json::parse(refused->body)["code"] == "unauthorized");
      CHECK(refused->get_header_value("WWW-Authenticate") == "Bearer");
    }
    auto accepted = post_notify(port, "Bearer s3cret");
    REQUIRE(accepted);
    CHECK(accepted->status == 200);
    REQUIRE(listener.wait_messages(1));
    CHECK(listener.messages().size() == 1);  // none of the refused ones got through
  }

  SECTION("the message service sends it, through the environment too") {
    LivechatServer notify({"serve-notify", "--port", "0"}, {{"LIVECHAT_NOTIFY_TOKEN", "t0ken"}});
    LivechatServer message({"serve-message", "--port", "0", "--notify-url",
                            notify.url("notification"), "--notify-token", "t0ken"});
    SseClient listener(notify.port("notification"), "/events");
    REQUIRE(listener.wait_connected());
    auto id = post_message(message.port("message"), "with the token");
    REQUIRE(listener.wait_messages(1));
    CHECK(listener.messages()[0].id == id);
  }

  SECTION("a message service with the wrong token keeps its messages and says why") {
    LivechatServer notify({"serve-notify", "--port", "0", "--notify-token", "right"});
    LivechatServer message({"serve-message", "--port", "0", "--notify-url",
                            notify.url("notification"), "--notify-token", "wrong"});
    post_message(message.port("message"), "kept");
    httplib::Client client("127.0.0.1", message.port("message"));
    REQUIRE(eventually([&] {
      auto health = json::parse(client.Get("/health")->body);
      return health["notify"]["reachable"] == false && health["notify"]["backlog"] == 1;
    }));
    CHECK(message.process().err().find("wrong notify token") != std::string::npos);
  }

  SECTION("serve-notify on a public address without a token warns at start-up") {
    Child open({LIVECHAT_BINARY, "serve-notify", "--port", "0", "--host", "0.0.0.0"},
               {{"LIVECHAT_DB", ":memory:"}});
    CHECK(open.wait_until(
        [](const std::string&, const std::string& err) {
          return err.find("listening") != std::string::npos &&
                 err.find("set --notify-token") != std::string::npos;
        },
        10s));
    open.signal(SIGTERM);
    CHECK(open.wait_exit(10s) == 0);
    LivechatServer loopback({"serve-notify", "--port", "0"});
    CHECK(loopback.process().err().find("--notify-token") == std::string::npos);
  }
}

namespace {

httplib::Result post_as(int port, const std::string& forwarded_for = "") {
  httplib::Client client("127.0.0.1", port);
  httplib::Headers headers;
  if (!forwarded_for.empty()) {
    headers.emplace("X-Forwarded-For", forwarded_for);
  }
  return client.Post("/messages", headers, R"({"content":"hi"})", "application/json");
}

}  // namespace

TEST_CASE("per-client limits", "[e2e]") {
  SECTION(
      "posting faster than --rate-limit gets a 429 with Retry-After, until the bucket refills") {
    LivechatServer server(
        {"serve", "--port", "0", "--notify-port", "0", "--rate-limit", "4", "--rate-burst", "3"});
    int port = server.port("message");
    for (int i = 0; i < 3; ++i) {
      auto burst = post_as(port);
      REQUIRE(burst);
      CHECK(burst->status == 201);
    }
    auto limited = post_as(port);
    REQUIRE(limited);
    CHECK(limited->status == 429);
    CHECK(json::parse(limited->body)["code"] == "rate_limited");
    CHECK(limited->get_header_value("Retry-After") == "1");
    // Refused posts take nothing from the bucket: one gets through once a token is back.
    CHECK(eventually([&] { return post_as(port)->status == 201; }));
    httplib::Client client("127.0.0.1", port);
    CHECK(json::parse(client.Get("/health")->body)["rejected"].get<int>() >= 1);
  }

  SECTION("--trust-proxy counts the address the proxy saw, not the proxy's") {
    LivechatServer server({"serve", "--port", "0", "--notify-port", "0", "--rate-limit", "1",
                           "--rate-burst", "1", "--trust-proxy"});
    int port = server.port("message");
    CHECK(post_as(port, "203.0.113.7")->status == 201);
    CHECK(post_as(port, "203.0.113.7")->status == 429);
    CHECK(post_as(port, "198.51.100.1, 203.0.113.8")->status == 201);
    CHECK(post_as(port, "203.0.113.9")->status == 201);
    // Without it, everyone behind one proxy is one client.
    LivechatServer direct(
        {"serve", "--port", "0", "--notify-port", "0", "--rate-limit", "1", "--rate-burst", "1"});
    CHECK(post_as(direct.port("message"), "203.0.113.7")->status == 201);
    CHECK(post_as(direct.port("message"), "203.0.113.8")->status == 429);
  }

  SECTION("streams beyond --max-streams-per-client get a JSON 503; a closed one frees its place") {
    LivechatServer notify({"serve-notify", "--port", "0", "--max-streams-per-client", "2"});
    int port = notify.port("notification");
    SseClient first(port, "/events");
    SseClient second(port, "/events");
    REQUIRE(first.wait_connected());
    REQUIRE(second.wait_connected());
    SseClient third(port, "/events");
    REQUIRE(third.wait_ended());
    CHECK(third.status() == 503);
    CHECK(json::parse(third.raw())["code"] == "too_many_clients");
    CHECK(third.header("Retry-After") == "5");
    first.close();
    CHECK(eventually([&] {
      SseClient again(port, "/events");
      return again.wait_connected(2s);
    }));
  }
}
