// End to end: resuming streams with Last-Event-ID, resets, heartbeats and slow clients.
#include <httplib.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/support/helpers.hpp"
#include "tests/support/process.hpp"
#include "tests/support/sse_client.hpp"

using namespace livechat::test;
using json = nlohmann::json;

namespace {

std::string post(httplib::Client& client, const std::string& content) {
  auto result = client.Post("/messages", json{{"content", content}}.dump(), "application/json");
  REQUIRE(result);
  REQUIRE(result->status == 201);
  return json::parse(result->body)["id"];
}

std::vector<std::string> ids_of(const std::vector<livechat::wire::sse::Event>& events) {
  std::vector<std::string> ids;
  for (const auto& e : events) {
    ids.push_back(e.id);
  }
  return ids;
}

json health(int port) {
  httplib::Client client("127.0.0.1", port);
  return json::parse(client.Get("/health")->body);
}

}  // namespace

TEST_CASE("resuming a stream", "[e2e]") {
  SECTION("Last-Event-ID, as a header or a query, replays what came after it, then goes live") {
    auto server = start_serve();
    httplib::Client messages("127.0.0.1", server.port("message"));
    std::vector<std::string> ids;
    for (int i = 0; i < 5; ++i) {
      ids.push_back(post(messages, "m" + std::to_string(i)));
    }
    SseClient by_header(server.port("notification"), "/events", {{"Last-Event-ID", ids[1]}});
    SseClient by_query(server.port("notification"), "/events?last_event_id=" + ids[1]);
    REQUIRE(by_header.wait_messages(3));
    REQUIRE(by_query.wait_messages(3));
    ids.push_back(post(messages, "live"));
    std::vector<std::string> expected(ids.begin() + 2, ids.end());
    REQUIRE(by_header.wait_messages(4));
    REQUIRE(by_query.wait_messages(4));
    CHECK(ids_of(by_header.messages()) == expected);
    CHECK(ids_of(by_query.messages()) == expected);
    CHECK(health(server.port("notification"))["resumes"] == 2);
  }

  SECTION("the newest id replays nothing") {
    auto server = start_serve();
    httplib::Client messages("127.0.0.1", server.port("message"));
    auto last = post(messages, "only");
    SseClient client(server.port("notification"), "/events", {{"Last-Event-ID", last}});
    REQUIRE(client.wait_connected());
    auto next = post(messages, "next");
    REQUIRE(client.wait_messages(1));
    CHECK(ids_of(client.messages()) == std::vector<std::string>{next});
  }

  SECTION("an unknown id gets a reset, then the live stream") {
    auto server = start_serve();
    httplib::Client messages("127.0.0.1", server.port("message"));
    post(messages, "before");
    SseClient client(server.port("notification"), "/events", {{"Last-Event-ID", "no-such-id"}});
    REQUIRE(client.wait_connected());
    auto live = post(messages, "after");
    REQUIRE(client.wait_messages(1));
    auto events = client.events();
    REQUIRE(events.size() == 3);
    CHECK(events[0].type == "connected");
    CHECK(events[1].type == "reset");
    auto reset = json::parse(events[1].data);
    CHECK(reset["last_id"] == "no-such-id");
    CHECK(reset["reason"].get<std::string>().rfind("unknown", 0) == 0);
    CHECK(events[2].id == live);
    CHECK(health(server.port("notification"))["resets"] == 1);
  }

  SECTION("an id older than the log holds gets a reset that says so") {
    auto server = start_serve({"--log-events", "3"});
    httplib::Client messages("127.0.0.1", server.port("message"));
    std::vector<std::string> ids;
    for (int i = 0; i < 6; ++i) {
      ids.push_back(post(messages, "m" + std::to_string(i)));
    }
    SseClient expired(server.port("notification"), "/events", {{"Last-Event-ID", ids[0]}});
    SseClient held(server.port("notification"), "/events", {{"Last-Event-ID", ids[3]}});
    REQUIRE(held.wait_messages(2));
    CHECK(ids_of(held.messages()) == std::vector<std::string>{ids[4], ids[5]});
    REQUIRE(expired.wait_connected());
    REQUIRE(eventually([&] { return expired.events().size() >= 2; }));
    auto reset = expired.events()[1];
    CHECK(reset.type == "reset");
    CHECK(json::parse(reset.data)["reason"].get<std::string>().rfind("expired", 0) == 0);
    CHECK(expired.messages().empty());
  }

  SECTION("a replay longer than --max-lag gets a reset instead of being closed over and over") {
    auto server = start_serve({"--log-events", "100", "--max-lag", "10"});
    httplib::Client messages("127.0.0.1", server.port("message"));
    std::vector<std::string> ids;
    for (int i = 0; i < 50; ++i) {
      ids.push_back(post(messages, "m" + std::to_string(i)));
    }
    SseClient client(server.port("notification"), "/events", {{"Last-Event-ID", ids[4]}});
    REQUIRE(eventually([&] { return client.events().size() >= 2; }));
    CHECK(client.events()[1].type == "reset");
    CHECK(json::parse(client.events()[1].data)["reason"].get<std::string>().rfind("behind", 0) ==
          0);
    auto live = post(messages, "live");
    REQUIRE(client.wait_messages(1));
    CHECK(client.messages().back().id == live);
  }

  SECTION("resuming while messages are being published: no gap, no repeat") {
    auto server = start_serve();
    std::vector<std::string> posted;
    std::mutex posted_mutex;
    constexpr int k_messages = 400;
    std::thread publisher([&] {
      httplib::Client messages("127.0.0.1", server.port("message"));
      for (int i = 0; i < k_messages; ++i) {
        auto id = post(messages, "m" + std::to_string(i));
        std::lock_guard lock(posted_mutex);
        posted.push_back(id);
      }
    });
    // Clients resume from ids taken while publishing goes on.
    std::vector<std::pair<std::size_t, std::unique_ptr<SseClient>>> clients;
    for (std::size_t at : {10u, 60u, 150u, 250u, 390u}) {
      REQUIRE(eventually([&] {
        std::lock_guard lock(posted_mutex);
        return posted.size() > at;
      }));
      std::string id;
      {
        std::lock_guard lock(posted_mutex);
        id = posted[at];
      }
      clients.emplace_back(at, std::make_unique<SseClient>(
                                   server.port("notification"), "/events",
                                   std::map<std::string, std::string>{{"Last-Event-ID", id}}));
    }
    publisher.join();
    for (auto& [at, client] : clients) {
      std::size_t expected_count = k_messages - at - 1;
      REQUIRE(client->wait_messages(expected_count));
      std::vector<std::string> expected(posted.begin() + static_cast<long>(at) + 1, posted.end());
      CHECK(ids_of(client->messages()) == expected);
    }
  }
}

TEST_CASE("stream upkeep", "[e2e]") {
  SECTION("an idle stream gets ': ping' at the heartbeat interval") {
    auto server = start_serve({"--heartbeat", "0.05"});
    SseClient client(server.port("notification"), "/events");
    REQUIRE(client.wait_connected());
    CHECK(eventually([&] {
      auto raw = client.raw();
      std::size_t pings = 0;
      for (auto at = raw.find(": ping\n"); at != std::string::npos;
           at = raw.find(": ping\n", at + 1)) {
        ++pings;
      }
      return pings >= 3;
    }));
  }

  SECTION("a client that stops reading is closed; a reading one gets everything") {
    auto server = start_serve({"--max-lag", "50"});
    int notify = server.port("notification");
    StalledClient stalled(notify, "/events");
    SseClient fast(notify, "/events");
    REQUIRE(fast.wait_connected());
    REQUIRE(eventually([&] { return health(notify)["clients"] == 2; }));
    httplib::Client messages("127.0.0.1", server.port("message"));
    const std::string big(16 * 1024, 'x');
    constexpr int k_messages = 300;
    for (int i = 0; i < k_messages; ++i) {
      post(messages, big);
    }
    REQUIRE(fast.wait_messages(k_messages));
    CHECK(fast.messages().size() == k_messages);
    CHECK(eventually([&] { return health(notify)["closed_slow"] == 1; }));
    CHECK(eventually([&] { return stalled.closed_by_server(); }));
    CHECK(eventually([&] { return health(notify)["clients"] == 1; }));
  }
}

TEST_CASE("listen takes a silent stream for dead and reconnects", "[e2e]") {
  // No heartbeat for an hour: after --idle-timeout of silence the stream counts as dead.
  auto server = start_serve({"--heartbeat", "3600"});
  auto listened = run_livechat({"listen", "--url", server.url("notification"), "--idle-timeout",
                                "0.3", "--max-retries", "1"});
  CHECK(listened.code == 1);
  CHECK(listened.err.find("reconnecting in") != std::string::npos);
  CHECK(listened.err.find("(the stream went silent)") != std::string::npos);
  CHECK(listened.err.find("connected\nreconnecting") != std::string::npos);
}

TEST_CASE("listen --since", "[e2e]") {
  auto server = start_serve();
  httplib::Client messages("127.0.0.1", server.port("message"));
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) {
    ids.push_back(post(messages, "m" + std::to_string(i)));
  }
  auto listened = run_livechat(
      {"listen", "--json", "--url", server.url("notification"), "--since", ids[0], "--count", "3"});
  CHECK(listened.code == 0);
  std::vector<std::string> got;
  std::istringstream lines(listened.out);
  for (std::string line; std::getline(lines, line);) {
    got.push_back(json::parse(line)["id"]);
  }
  CHECK(got == std::vector<std::string>{ids[1], ids[2], ids[3]});
}
