// End to end across processes: split services, the HTTP hop between them, start-up and stop.
#include <httplib.h>
#include <signal.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/support/helpers.hpp"
#include "tests/support/process.hpp"
#include "tests/support/sse_client.hpp"

using namespace livechat::test;
using json = nlohmann::json;

namespace {}  // namespace

TEST_CASE("split services", "[e2e]") {
  SECTION("serve-message hands messages to serve-notify over HTTP, in order") {
    LivechatServer notify({"serve-notify", "--port", "0"});
    LivechatServer message(
        {"serve-message", "--port", "0", "--notify-url", notify.url("notification")});
    SseClient client(notify.port("notification"), "/events");
    REQUIRE(client.wait_connected());
    std::vector<std::string> ids;
    for (int i = 0; i < 100; ++i) {
      ids.push_back(post_message(message.port("message"), "m" + std::to_string(i)));
    }
    REQUIRE(client.wait_messages(100));
    auto got = client.messages();
    REQUIRE(got.size() == 100);
    for (std::size_t i = 0; i < ids.size(); ++i) {
      CHECK(got[i].id == ids[i]);
    }
  }

  SECTION("messages accepted while the notification service is down arrive once it is back") {
    int notify_port = free_port();
    std::string notify_url = "http://127.0.0.1:" + std::to_string(notify_port);
    LivechatServer message({"serve-message", "--port", "0", "--notify-url", notify_url});
    std::vector<std::string> ids;
    for (int i = 0; i < 20; ++i) {
      ids.push_back(post_message(message.port("message"), "waiting " + std::to_string(i)));
    }
    httplib::Client health("127.0.0.1", message.port("message"));
    CHECK(eventually([&] {
      auto body = json::parse(health.Get("/health")->body);
      return body["notify"]["reachable"] == false && body["notify"]["backlog"] == 20;
    }));

    LivechatServer notify({"serve-notify", "--port", std::to_string(notify_port)});
    SseClient client(notify_port, "/events");
    REQUIRE(client.wait_connected());
    // The backlog may land before or after this client connected; what it got, plus what it
    // sends now, arrives in acceptance order with nothing twice.
    ids.push_back(post_message(message.port("message"), "after"));
    // The backlog may still be on its way when "after" is sent: wait for "after" itself.
    REQUIRE(eventually([&] {
      auto so_far = client.messages();
      return !so_far.empty() && so_far.back().id == ids.back();
    }));
    CHECK(eventually(
        [&] { return json::parse(health.Get("/health")->body)["notify"]["backlog"] == 0; }));
    auto got = client.messages();
    REQUIRE(!got.empty());
    CHECK(got.back().id == ids.back());
    for (std::size_t i = 1; i < got.size(); ++i) {
      CHECK(got[i - 1].id < got[i].id);
    }
    httplib::Client notify_health("127.0.0.1", notify_port);
    CHECK(json::parse(notify_health.Get("/health")->body)["published"] == 21);
  }
}

TEST_CASE("a large backlog to the notification service", "[e2e]") {
  // 300 messages of 8 KiB (2.4 MB) built up while the notification service was down: they
  // go out in batches it takes, none dropped.
  int notify_port = free_port();
  std::string notify_url = "http://127.0.0.1:" + std::to_string(notify_port);
  LivechatServer message({"serve-message", "--port", "0", "--notify-url", notify_url});
  std::vector<std::string> ids;
  for (int i = 0; i < 300; ++i) {
    ids.push_back(
        post_message(message.port("message"), std::string(8 * 1024, 'b') + std::to_string(i)));
  }
  LivechatServer notify({"serve-notify", "--port", std::to_string(notify_port)});
  httplib::Client health("127.0.0.1", notify_port);
  REQUIRE(eventually([&] { return json::parse(health.Get("/health")->body)["published"] == 300; },
                     20s));
  CHECK(message.process().err().find("skipping") == std::string::npos);
}

TEST_CASE("service start-up and stop", "[e2e]") {
  SECTION("SIGTERM ends streams with a final comment and exits 0") {
    LivechatServer server({"serve", "--port", "0", "--notify-port", "0"});
    SseClient client(server.port("notification"), "/events");
    REQUIRE(client.wait_connected());
    auto code = server.stop(5s);
    REQUIRE(code);
    CHECK(*code == 0);
    REQUIRE(client.wait_ended());
    CHECK(client.raw().find(": server shutting down") != std::string::npos);
  }

  SECTION("a port in use is one clear error line and a non-zero exit") {
    LivechatServer first({"serve-notify", "--port", "0"});
    auto second = run_livechat({"serve-notify", "--host", "127.0.0.1", "--port",
                                std::to_string(first.port("notification"))});
    CHECK(second.code != 0);
    CHECK(second.err.find("livechat: error: notification service: cannot listen on") !=
          std::string::npos);
    CHECK(second.err.find("already in use") != std::string::npos);
  }

  SECTION("PORT from the environment is used unless --port is given") {
    int env_port = free_port();
    LivechatServer from_env({"serve-notify"}, {{"PORT", std::to_string(env_port)}});
    CHECK(from_env.port("notification") == env_port);
    int flag_port = free_port();
    LivechatServer from_flag({"serve-notify", "--port", std::to_string(flag_port)},
                             {{"PORT", std::to_string(free_port())}});
    CHECK(from_flag.port("notification") == flag_port);
  }
}
