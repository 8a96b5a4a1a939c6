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
