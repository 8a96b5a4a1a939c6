// The Redis store against a real redis-server started for the test.
#include <catch2/catch.hpp>
#include <set>
#include <thread>

#include "server/service/outbox.hpp"
#include "server/store/redis_store.hpp"
#include "tests/support/redis_server.hpp"
#include "tests/support/store_calls.hpp"

using namespace livechat;
using livechat::test::ids_of;
using livechat::test::numbered_draft;
using livechat::test::RedisServer;
using livechat::test::upkeep;
using livechat::test::write_one;

namespace {

wire::RedisAddress address(const RedisServer& redis) { return *wire::parse_redis_url(redis.url()); }

}  // namespace

TEST_CASE("server::store::RedisStore", "[redis]") {
  RedisServer redis;

  SECTION("two stores (two message nodes) stamp one strictly increasing order") {
    server::store::RedisStore a(address(redis));
    server::store::RedisStore b(address(redis));
    // Each node's posts go through its own outbox (no notifier: nodes read the stream).
    server::service::Outbox outbox_a(a, nullptr);
    server::service::Outbox outbox_b(b, nullptr);
    std::mutex mutex;
    std::set<std::string> answered;
    std::vector<std::thread> posters;
    for (int t = 0; t < 8; ++t) {
      posters.emplace_back([&, t] {
        auto& outbox = t % 2 == 0 ? outbox_a : outbox_b;
        for (int i = 0; i < 50; ++i) {
          auto stored = outbox.submit(numbered_draft(t * 50 + i));
          REQUIRE(stored);
          std::lock_guard lock(mutex);
          answered.insert(stored->id);
        }
      });
    }
    for (auto& p : posters) {
      p.join();
    }
    CHECK(answered.size() == 400);
    CHECK(a.size() == 400);
    auto all = *a.query({std::string("0"), std::nullopt, std::nullopt, 1000});
    REQUIRE(all.size() == 400);
    auto in_order = ids_of(all);
    CHECK(std::set<std::string>(in_order.begin(), in_order.end()) == answered);
    CHECK(std::adjacent_find(in_order.begin(), in_order.end(), std::greater_equal<>()) ==
          in_order.end());
  }

  SECTION("history: after and before an id, by room, limited, oldest first") {
    server::store::RedisStore store(address(redis));
    std::vector<std::string> id;
    for (int i = 0; i < 10; ++i) {
      id.push_back(write_one(store, numbered_draft(i, i % 2 == 0 ? "even" : "odd"))->id);
    }
    using S = std::vector<std::string>;
    CHECK(ids_of(*store.query({std::nullopt, std::nullopt, std::nullopt, 3})) ==
          S{id[7], id[8], id[9]});
    CHECK(ids_of(*store.query({id[6], std::nullopt, std::nullopt, 100})) == S{id[7], id[8], id[9]});
    CHECK(ids_of(*store.query({std::nullopt, id[3], std::nullopt, 2})) == S{id[1], id[2]});
    CHECK(ids_of(*store.query({id[1], id[8], std::string("even"), 100})) == S{id[2], id[4], id[6]});
    CHECK(ids_of(*store.query({std::nullopt, std::nullopt, std::string("odd"), 2})) ==
          S{id[7], id[9]});
    CHECK(store.query({std::nullopt, std::nullopt, std::string("none"), 10})->empty());
    CHECK(store.query({std::string("~"), std::nullopt, std::nullopt, 10})->empty());
    CHECK(store.query({std::nullopt, std::string("0"), std::nullopt, 10})->empty());
    auto first = *store.query({std::string("0"), std::nullopt, std::nullopt, 1});
    REQUIRE(first.size() == 1);
    CHECK(first[0] == wire::Message{id[0], "content 0", "tester", "even", first[0].timestamp});
    CHECK(store.kind() == "redis");
  }

  SECTION("Redis away: posts fail and health says why; back: posts succeed again") {
    server::store::RedisStore store(address(redis));
    REQUIRE(write_one(store, numbered_draft(1)));
    REQUIRE(store.query({std::string("0"), std::nullopt, std::nullopt, 10})->size() == 1);
    redis.stop();
    auto history = store.query({std::string("0"), std::nullopt, std::nullopt, 10});
    REQUIRE_FALSE(history);
    CHECK(history.error().code == "redis_unreachable");
    CHECK_FALSE(write_one(store, numbered_draft(2)));
    CHECK_FALSE(store.health().reachable);
    CHECK(store.health().error.find("Redis at redis://127.0.0.1:") == 0);
    redis.start();
    // The history connection is a broken one from before the restart: read again, it reconnects.
    CHECK(store.query({std::string("0"), std::nullopt, std::nullopt, 10})->size() == 1);
    REQUIRE(livechat::test::eventually([&] {
      upkeep(store);
      return store.health().reachable;
    }));
    REQUIRE(write_one(store, numbered_draft(3)));
    // The append-only file kept the first one through the restart.
    CHECK(store.size() == 2);
  }

  SECTION("Redis out of memory: posts fail and health says not writable; room again: writable") {
    server::store::RedisStore store(address(redis));
    REQUIRE(write_one(store, numbered_draft(1)));
    CHECK(store.health().writable);
    server::redis::Connection admin(address(redis), std::chrono::milliseconds(2000));
    REQUIRE(admin.command({"CONFIG", "SET", "maxmemory", "1"}));
    CHECK_FALSE(write_one(store, numbered_draft(2)));
    auto health = store.health();
    CHECK(health.reachable);
    CHECK_FALSE(health.writable);
    CHECK(health.error.find("OOM") != std::string::npos);
    // Idle, it stays so: a PING alone is no proof that Redis takes writes.
    CHECK_FALSE(livechat::test::eventually(
        [&] {
          upkeep(store);
          return store.health().writable;
        },
        std::chrono::milliseconds(300)));
    REQUIRE(admin.command({"CONFIG", "SET", "maxmemory", "0"}));
    // No post needed: the store's probe write finds Redis writable again.
    REQUIRE(livechat::test::eventually([&] {
      upkeep(store);
      return store.health().writable;
    }));
    CHECK(store.health().error.empty());
    REQUIRE(write_one(store, numbered_draft(3)));
    CHECK(store.size() == 2);
  }
}
