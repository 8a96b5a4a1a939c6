#include <catch2/catch.hpp>

#include "server/service/client_limits.hpp"

using namespace livechat;
using namespace std::chrono_literals;

TEST_CASE("server::service::RateLimiter") {
  const auto t0 = server::service::RateLimiter::Clock::time_point{} + 1h;

  SECTION("a burst, then one every 1/rate seconds, per client") {
    server::service::RateLimiter limiter(2.0, 3.0);
    for (int i = 0; i < 3; ++i) {
      CHECK_FALSE(limiter.take("a", t0));
    }
    auto wait = limiter.take("a", t0);
    REQUIRE(wait);
    CHECK(*wait == 500ms);
    CHECK_FALSE(limiter.take("b", t0));  // another client has its own bucket
    CHECK(limiter.take("a", t0 + 250ms) == std::optional(250ms));
    CHECK_FALSE(limiter.take("a", t0 + 500ms));
    CHECK(limiter.take("a", t0 + 500ms));
    // A long pause refills the bucket to the burst, no more.
    for (int i = 0; i < 3; ++i) {
      CHECK_FALSE(limiter.take("a", t0 + 1h));
    }
    CHECK(limiter.take("a", t0 + 1h));
  }

  SECTION("buckets of clients gone quiet are let go") {
    server::service::RateLimiter limiter(1000.0, 1.0);
    for (int i = 0; i < 5000; ++i) {
      limiter.take("client " + std::to_string(i), t0 + std::chrono::milliseconds(i));
    }
    CHECK(limiter.clients() < 5000);
  }
}

TEST_CASE("server::service::StreamCounter") {
  server::service::StreamCounter counter;
  auto one = counter.reserve("a", 2);
  auto two = counter.reserve("a", 2);
  REQUIRE(one);
  REQUIRE(two);
  CHECK_FALSE(counter.reserve("a", 2));
  CHECK(counter.reserve("b", 2));
  CHECK(counter.open("a") == 2);
  auto copy = one;
  one.reset();
  CHECK(counter.open("a") == 2);  // a copy still holds it
  copy.reset();
  CHECK(counter.open("a") == 1);
  CHECK(counter.reserve("a", 2));
  CHECK(counter.reserve("a", 0));  // 0: no cap
  two.reset();
  CHECK(counter.open("c") == 0);
}
