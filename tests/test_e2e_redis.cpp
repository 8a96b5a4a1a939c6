// End to end on Redis: message and notification nodes sharing one stream on a real
// redis-server, started by the test on a free loopback port.
#include <httplib.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "tests/support/in_process.hpp"
#include "tests/support/process.hpp"
#include "tests/support/redis_server.hpp"
#include "tests/support/sse_client.hpp"
#include "tests/support/tcp_proxy.hpp"

using namespace livechat::test;
using json = nlohmann::json;

namespace {

LivechatServer message_node(const RedisServer& redis, std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"serve-message", "--port", "0", "--redis", redis.url()};
  args.insert(args.end(), extra.begin(), extra.end());
  return LivechatServer(args);
}

LivechatServer notify_node(const std::string& redis_url) {
  return LivechatServer({"serve-notify", "--port", "0", "--redis", redis_url});
}

LivechatServer notify_node(const RedisServer& redis) { return notify_node(redis.url()); }

// Posts a message; returns its id, or nothing if the service did not accept it.
std::optional<std::string> try_post(int port, const std::string& content) {
  httplib::Client client("127.0.0.1", port);
  auto result = client.Post("/messages", json{{"content", content}}.dump(), "application/json");
  if (!result || result->status != 201) {
    return std::nullopt;
  }
  return json::parse(result->body)["id"].get<std::string>();
}

std::string post(int port, const std::string& content) {
  auto id = try_post(port, content);
  REQUIRE(id);
  return *id;
}

std::vector<std::string> ids_of(const std::vector<livechat::wire::sse::Event>& events) {
  std::vector<std::string> ids;
  for (const auto& e : events) {
    ids.push_back(e.id);
  }
  return ids;
}

// Returns whether a listener has received every one of `ids`.
bool has_all(const SseClient& client, const std::vector<std::string>& ids) {
  auto seen = ids_of(client.messages());
  std::set<std::string> got(seen.begin(), seen.end());
  return std::all_of(ids.begin(), ids.end(), [&](const auto& id) { return got.count(id) == 1; });
}

// Two notification nodes on one Redis, with a connected listener on each.
struct TwoListeners {
  explicit TwoListeners(const std::string& redis_url)
      : n1(notify_node(redis_url)),
        n2(notify_node(redis_url)),
        on_n1(n1.port("notification"), "/events"),
        on_n2(n2.port("notification"), "/events") {
    REQUIRE(on_n1.wait_connected());
    REQUIRE(on_n2.wait_connected());
  }

  // Waits until both have `count` messages, and returns the ids the first one got, checking
  // that the second got the same, in the same order.
  std::vector<std::string> both_got(std::size_t count) {
    REQUIRE(on_n1.wait_messages(count, 20s));
    REQUIRE(on_n2.wait_messages(count, 20s));
    return same_on_both();
  }

  // Waits until both have every one of `accepted`. A post cut off mid-append may be in Redis
  // though it got a 503, so the streams may carry a few more than were accepted.
  std::vector<std::string> both_have(const std::vector<std::string>& accepted) {
    CHECK(eventually([&] { return has_all(on_n1, accepted) && has_all(on_n2, accepted); }, 30s));
    auto seen = same_on_both();
    CHECK(seen.size() >= accepted.size());
    return seen;
  }

  // Returns the ids the first listener got, checking that the second got the same, in order.
  std::vector<std::string> same_on_both() {
    auto seen = ids_of(on_n1.messages());
    CHECK(seen == ids_of(on_n2.messages()));
    CHECK(std::adjacent_find(seen.begin(), seen.end(), std::greater_equal<>()) == seen.end());
    return seen;
  }

  LivechatServer n1;
  LivechatServer n2;
  SseClient on_n1;
  SseClient on_n2;
};

json get_json(int port, const std::string& path, int* status = nullptr) {
  httplib::Client client("127.0.0.1", port);
  auto result = client.Get(path.c_str());
  REQUIRE(result);
  if (status != nullptr) {
    *status = result->status;
  }
  return json::parse(result->body);
}

// What every test here starts from: a real redis-server of its own.
struct WithRedis {
  RedisServer redis;
};

}  // namespace

TEST_CASE_METHOD(
    WithRedis,
    "Redis: messages posted to two message nodes reach listeners on two notify nodes, in one order",
    "[e2e][redis]") {
  auto m1 = message_node(redis);
  auto m2 = message_node(redis);
  TwoListeners nodes(redis.url());
  std::mutex mutex;
  std::set<std::string> accepted;
  std::vector<std::thread> posters;
  for (int t = 0; t < 4; ++t) {
    posters.emplace_back([&, t] {
      int port = (t % 2 == 0 ? m1 : m2).port("message");
      for (int i = 0; i < 50; ++i) {
        auto id = post(port, "t" + std::to_string(t) + " #" + std::to_string(i));
        std::lock_guard lock(mutex);
        accepted.insert(id);
      }
    });
  }
  for (auto& p : posters) {
    p.join();
  }
  REQUIRE(accepted.size() == 200);
  auto seen = nodes.both_got(200);
  CHECK(std::set<std::string>(seen.begin(), seen.end()) == accepted);
  auto health = get_json(nodes.n2.port("notification"), "/health");
  CHECK(health["status"] == "ok");
  CHECK(health["redis"]["reachable"] == true);
  CHECK(health["redis"]["last_id"] == seen.back());
  CHECK(get_json(m1.port("message"), "/health")["store"] == "redis");
  // History reads the stream, whichever message node is asked.
  auto history = get_json(m2.port("message"), "/messages?limit=1000");
  REQUIRE(history.size() == 200);
  CHECK(history.front()["id"] == seen.front());
  CHECK(history.back()["id"] == seen.back());
}

TEST_CASE_METHOD(
    WithRedis,
    "Redis: a listener moved to another node resumes with Last-Event-ID and misses nothing",
    "[e2e][redis]") {
  auto m = message_node(redis);
  auto a = notify_node(redis);
  std::vector<std::string> ids;
  SseClient on_a(a.port("notification"), "/events");
  REQUIRE(on_a.wait_connected());
  for (int i = 0; i < 20; ++i) {
    ids.push_back(post(m.port("message"), "first " + std::to_string(i)));
  }
  REQUIRE(on_a.wait_messages(20));
  std::string last = on_a.messages().back().id;
  on_a.close();
  for (int i = 0; i < 20; ++i) {
    ids.push_back(post(m.port("message"), "while away " + std::to_string(i)));
  }
  // A node started after all of that: the gap is older than anything it read itself.
  auto b = notify_node(redis);
  SseClient on_b(b.port("notification"), "/events", {{"Last-Event-ID", last}});
  REQUIRE(on_b.wait_messages(20));
  ids.push_back(post(m.port("message"), "live"));
  REQUIRE(on_b.wait_messages(21));
  CHECK(ids_of(on_b.messages()) == std::vector<std::string>(ids.begin() + 20, ids.end()));
  CHECK(on_b.events()[1].type == "message");  // no reset before the replay
  CHECK(get_json(b.port("notification"), "/health")["resumes"] == 1);
  // And back on node A, which read all of it live.
  SseClient again(a.port("notification"), "/events", {{"Last-Event-ID", ids[29]}});
  REQUIRE(again.wait_messages(11));
  CHECK(ids_of(again.messages()) == std::vector<std::string>(ids.begin() + 30, ids.end()));
}

TEST_CASE_METHOD(WithRedis, "Redis: a client ahead of a lagging node gets nothing twice",
                 "[e2e][redis]") {
  auto m = message_node(redis);
  auto a = notify_node(redis);
  TcpProxy proxy(redis.port());
  auto b = notify_node("redis://127.0.0.1:" + std::to_string(proxy.port()));
  proxy.set_refusing(true);
  proxy.cut_all();  // node B stops reading the stream for now
  REQUIRE(eventually(
      [&] { return get_json(b.port("notification"), "/health")["redis"]["reachable"] == false; }));
  SseClient on_a(a.port("notification"), "/events");
  REQUIRE(on_a.wait_connected());
  for (int i = 0; i < 5; ++i) {
    post(m.port("message"), "seen on A " + std::to_string(i));
  }
  REQUIRE(on_a.wait_messages(5));
  // The client moves to B, which has not read those five yet.
  SseClient on_b(b.port("notification"), "/events", {{"Last-Event-ID", on_a.messages()[4].id}});
  REQUIRE(on_b.wait_connected());
  proxy.set_refusing(false);
  REQUIRE(
      eventually([&] { return get_json(b.port("notification"), "/health")["published"] == 5; }));
  auto next = post(m.port("message"), "new");
  REQUIRE(on_b.wait_messages(1));
  REQUIRE(on_a.wait_messages(6));
  CHECK(ids_of(on_b.messages()) == std::vector<std::string>{next});
}

TEST_CASE_METHOD(WithRedis, "Redis: a resume read back from Redis keeps to the stream's rooms",
                 "[e2e][redis]") {
  auto m = message_node(redis);
  std::vector<std::string> in_a;
  std::string first;
  for (int i = 0; i < 20; ++i) {
    httplib::Client client("127.0.0.1", m.port("message"));
    auto result = client.Post(
        "/messages", json{{"content", std::to_string(i)}, {"room", i % 2 == 0 ? "a" : "b"}}.dump(),
        "application/json");
    REQUIRE(result);
    REQUIRE(result->status == 201);
    auto id = json::parse(result->body)["id"].get<std::string>();
    if (i == 0) {
      first = id;
    } else if (i % 2 == 0) {
      in_a.push_back(id);
    }
  }
  auto n = notify_node(redis);  // joined after all of them: the gap comes from Redis
  SseClient only_a(n.port("notification"), "/events?room=a&last_event_id=" + first);
  REQUIRE(only_a.wait_messages(in_a.size()));
  auto b = post(m.port("message"), "not for room a");
  auto live = [&] {
    httplib::Client client("127.0.0.1", m.port("message"));
    auto result = client.Post("/messages", json{{"content", "live"}, {"room", "a"}}.dump(),
                              "application/json");
    return json::parse(result->body)["id"].get<std::string>();
  }();
  in_a.push_back(live);
  REQUIRE(only_a.wait_messages(in_a.size()));
  CHECK(ids_of(only_a.messages()) == in_a);
  CHECK(b < live);
}

TEST_CASE_METHOD(
    WithRedis,
    "Redis: Redis restarted mid-stream: nothing accepted is lost, and health says so meanwhile",
    "[e2e][redis]") {
  auto m = message_node(redis);
  TwoListeners nodes(redis.url());
  std::mutex mutex;
  std::vector<std::string> accepted;
  std::atomic<int> refused{0};
  std::atomic<bool> stop{false};
  auto count = [&] {
    std::lock_guard lock(mutex);
    return accepted.size();
  };
  std::thread poster([&] {
    for (int i = 0; !stop; ++i) {
      if (auto id = try_post(m.port("message"), "n" + std::to_string(i))) {
        std::lock_guard lock(mutex);
        accepted.push_back(*id);
      } else {
        ++refused;  // a 503 while Redis is away: not accepted, so the client keeps it
        std::this_thread::sleep_for(std::chrono::milliseconds(20));  // pacing, not waiting
      }
    }
  });
  REQUIRE(eventually([&] { return count() >= 50; }));
  redis.stop();
  int status = 0;
  REQUIRE(eventually(
      [&] { return get_json(m.port("message"), "/health", &status)["status"] == "unavailable"; }));
  CHECK(status == 503);
  get_json(m.port("message"), "/messages", &status);
  CHECK(status == 503);  // history cannot be read either: an error, not an empty list
  REQUIRE(eventually(
      [&] { return get_json(nodes.n1.port("notification"), "/health")["status"] == "degraded"; }));
  auto before_restart = count();
  redis.start();
  REQUIRE(eventually([&] { return count() >= before_restart + 50; }));
  stop = true;
  poster.join();
  CHECK(refused > 0);
  nodes.both_have(accepted);
  CHECK(get_json(nodes.n1.port("notification"), "/health")["redis"]["reachable"] == true);
}

TEST_CASE_METHOD(WithRedis, "Redis: an id older than Redis still holds gets a reset that says so",
                 "[e2e][redis]") {
  auto m = message_node(redis, {"--redis-max-messages", "100"});
  std::string first = post(m.port("message"), "the oldest");
  for (int i = 0; i < 400; ++i) {
    post(m.port("message"), "filler " + std::to_string(i));
  }
  auto n = notify_node(redis);
  SseClient late(n.port("notification"), "/events", {{"Last-Event-ID", first}});
  REQUIRE(late.wait_connected());
  REQUIRE(eventually([&] { return late.events().size() >= 2; }));
  auto reset = late.events()[1];
  CHECK(reset.type == "reset");
  CHECK(json::parse(reset.data)["reason"].get<std::string>().rfind("expired", 0) == 0);
  CHECK(get_json(m.port("message"), "/health")["stored"].get<int>() < 400);
}

TEST_CASE_METHOD(
    WithRedis,
    "Redis: serve --redis is a node too, and /notify is refused on a node that follows Redis",
    "[e2e][redis]") {
  auto both =
      LivechatServer({"serve", "--port", "0", "--notify-port", "0", "--redis", redis.url()});
  auto n = notify_node(redis);
  SseClient on_both(both.port("notification"), "/events");
  SseClient on_n(n.port("notification"), "/events");
  REQUIRE(on_both.wait_connected());
  REQUIRE(on_n.wait_connected());
  auto id = post(both.port("message"), "from the all-in-one node");
  REQUIRE(on_both.wait_messages(1));
  REQUIRE(on_n.wait_messages(1));
  CHECK(on_both.messages()[0].id == id);
  CHECK(on_n.messages()[0].id == id);
  httplib::Client notify("127.0.0.1", n.port("notification"));
  auto refused =
      notify.Post("/notify", json{{"id", "x"}, {"content", "y"}}.dump(), "application/json");
  REQUIRE(refused);
  CHECK(refused->status == 409);
  CHECK(json::parse(refused->body)["code"] == "wrong_mode");
}

TEST_CASE_METHOD(WithRedis, "Redis: bench spreads its listeners over several notification nodes",
                 "[e2e][redis]") {
  auto m = message_node(redis);
  auto n1 = notify_node(redis);
  auto n2 = notify_node(redis);
  auto run = run_in_process({"bench", "-n", "40", "-m", "100", "--rate", "400", "--json",
                             "--message-url", m.url("message"), "--notify-url",
                             n1.url("notification") + "," + n2.url("notification")});
  INFO("stderr: " << run.err);
  REQUIRE(run.code == 0);
  auto report = json::parse(run.out);
  CHECK(report["connected"] == 40);
  CHECK(report["received"] == 40 * 100);
  CHECK(report["lost"] == 0);
  CHECK(report["out_of_order"] == 0);
  CHECK(get_json(n1.port("notification"), "/health")["deliveries"] == 20 * 100);
  CHECK(get_json(n2.port("notification"), "/health")["deliveries"] == 20 * 100);
}

TEST_CASE_METHOD(
    WithRedis,
    "Redis: connections to Redis cut again and again: nothing accepted is lost or doubled",
    "[e2e][redis]") {
  // Every node reaches Redis through a proxy that resets all its connections before a post
  // chosen at random in every run of up to 20: by count, so the cuts do not depend on speed.
  TcpProxy proxy(redis.port());
  const std::string through_proxy = "redis://127.0.0.1:" + std::to_string(proxy.port());
  auto m = LivechatServer({"serve-message", "--port", "0", "--redis", through_proxy});
  TwoListeners nodes(through_proxy);
  std::mt19937 random(7);
  std::uniform_int_distribution<int> gap(1, 20);
  int next_cut = gap(random);
  std::size_t cut = 0;
  std::vector<std::string> accepted;
  for (int i = 0; accepted.size() < 300 && i < 3000; ++i) {
    if (i == next_cut) {
      cut += proxy.cut_all();
      next_cut += gap(random);
    }
    if (auto id = try_post(m.port("message"), "cut " + std::to_string(i))) {
      accepted.push_back(*id);
    }
  }
  REQUIRE(accepted.size() == 300);
  CHECK(cut >= 15);  // 300 posts, a cut in every 20; each cuts the message node's link
  nodes.both_have(accepted);
}
