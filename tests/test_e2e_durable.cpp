// End to end: messages kept in SQLite across restarts, and the outbox to the notification side.
#include <httplib.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/support/helpers.hpp"
#include "tests/support/process.hpp"
#include "tests/support/sse_client.hpp"

using namespace livechat::test;
using json = nlohmann::json;

namespace {

std::vector<std::string> history_ids(int port) {
  httplib::Client client("127.0.0.1", port);
  std::vector<std::string> ids;
  for (const auto& m : json::parse(client.Get("/messages?limit=1000")->body)) {
    ids.push_back(m["id"]);
  }
  return ids;
}

std::size_t lines_in(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

}  // namespace

TEST_CASE("durable messages", "[e2e]") {
  TempDir dir;
  const std::string db = dir.file("chat.db");

  SECTION("history and increasing ids survive a restart of the message service") {
    std::vector<std::string> before;
    {
      LivechatServer server({"serve", "--port", "0", "--notify-port", "0", "--db", db});
      for (int i = 0; i < 5; ++i) {
        before.push_back(post_message(server.port("message"), "m" + std::to_string(i)));
      }
      REQUIRE(server.stop() == 0);
    }
    LivechatServer again({"serve", "--port", "0", "--notify-port", "0", "--db", db});
    CHECK(history_ids(again.port("message")) == before);
    auto next = post_message(again.port("message"), "after the restart");
    CHECK(next > before.back());
    CHECK(history_ids(again.port("message")).size() == 6);
  }

  SECTION("100 messages sent while the notification service is down all reach a listener") {
    int notify_port = free_port();
    std::string notify_url = "http://127.0.0.1:" + std::to_string(notify_port);
    auto notify = std::make_unique<LivechatServer>(std::vector<std::string>{
        "serve-notify", "--port", std::to_string(notify_port), "--retry", "100"});
    LivechatServer message(
        {"serve-message", "--port", "0", "--db", db, "--notify-url", notify_url});
    Child listener({LIVECHAT_BINARY, "listen", "--json", "--count", "101", "--url", notify_url,
                    "--message-url", message.url("message")});
    REQUIRE(listener.wait_until(
        [](auto&, auto& err) { return err.find("connected") != std::string::npos; }, 10s));
    std::vector<std::string> sent = {post_message(message.port("message"), "before")};
    REQUIRE(listener.wait_for_lines(1, 10s));

    REQUIRE(notify->stop() == 0);
    notify.reset();
    for (int i = 0; i < 100; ++i) {
      sent.push_back(post_message(message.port("message"), "while down " + std::to_string(i)));
    }
    notify = std::make_unique<LivechatServer>(std::vector<std::string>{
        "serve-notify", "--port", std::to_string(notify_port), "--retry", "100"});

    REQUIRE(listener.wait_exit(30s) == 0);
    std::vector<std::string> got;
    for (const auto& line : listener.out_lines()) {
      got.push_back(json::parse(line)["id"]);
    }
    CHECK(got == sent);
  }

  SECTION("what was stored but not delivered goes out after the message service restarts") {
    int notify_port = free_port();
    std::string notify_url = "http://127.0.0.1:" + std::to_string(notify_port);
    std::vector<std::string> sent;
    {
      LivechatServer message(
          {"serve-message", "--port", "0", "--db", db, "--notify-url", notify_url});
      for (int i = 0; i < 30; ++i) {
        sent.push_back(post_message(message.port("message"), "queued " + std::to_string(i)));
      }
      REQUIRE(message.stop() == 0);
    }
    LivechatServer notify({"serve-notify", "--port", std::to_string(notify_port)});
    SseClient client(notify_port, "/events");
    REQUIRE(client.wait_connected());
    LivechatServer message(
        {"serve-message", "--port", "0", "--db", db, "--notify-url", notify_url});
    REQUIRE(client.wait_messages(30, 20s));
    std::vector<std::string> got;
    for (const auto& e : client.messages()) {
      got.push_back(e.id);
    }
    CHECK(got == sent);
    httplib::Client health("127.0.0.1", message.port("message"));
    CHECK(eventually(
        [&] { return json::parse(health.Get("/health")->body)["notify"]["backlog"] == 0; }));
  }

  SECTION("an unusable --db is one clear error line at start-up") {
    std::ofstream(dir.file("junk.db")) << std::string(4096, 'j');
    for (const auto& bad :
         {dir.file("junk.db"), dir.path().string(), std::string("/proc/livechat.db")}) {
      auto result = run_livechat({"serve-message", "--port", "0", "--db", bad});
      INFO(result.err);
      CHECK(result.code == 1);
      CHECK(result.err.rfind("livechat: error: --db " + bad + ": ", 0) == 0);
      CHECK(lines_in(result.err) == 1);
    }
  }
}
