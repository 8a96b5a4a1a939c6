#include <catch2/catch.hpp>

#include "wire/backoff.hpp"

using namespace livechat::wire;
using std::chrono::milliseconds;

TEST_CASE("wire::Backoff") {
  SECTION("the ceiling doubles from 0.5 s up to 30 s") {
    Backoff backoff;
    std::vector<long> ceilings;
    for (int i = 0; i < 9; ++i) {
      ceilings.push_back(static_cast<long>(backoff.next(0.999999).count()));
    }
    CHECK(ceilings == std::vector<long>{499, 999, 1999, 3999, 7999, 15999, 29999, 29999, 29999});
    CHECK(backoff.attempts() == 9);
  }

  SECTION("full jitter: anywhere from zero up to the ceiling") {
    Backoff low;
    Backoff mid;
    for (int i = 0; i < 4; ++i) {
      CHECK(low.next(0.0) == milliseconds(0));
    }
    CHECK(mid.next(0.5) == milliseconds(250));
    CHECK(mid.next(0.5) == milliseconds(500));
    CHECK(mid.next(0.5) == milliseconds(1000));
  }

  SECTION("never shorter than the server's retry:") {
    Backoff backoff;
    backoff.set_server_retry(milliseconds(2000));
    CHECK(backoff.next(0.0) == milliseconds(2000));
    CHECK(backoff.next(0.9) == milliseconds(2000));
    for (int i = 0; i < 5; ++i) {
      backoff.next(0.5);
    }
    CHECK(backoff.next(0.5) == milliseconds(15000));  // the backoff has grown past it
  }

  SECTION("a server retry above the maximum is honoured") {
    Backoff backoff;
    backoff.set_server_retry(milliseconds(60'000));
    CHECK(backoff.next(0.99) == milliseconds(60'000));
  }

  SECTION("reset starts over after a healthy stream") {
    Backoff backoff;
    for (int i = 0; i < 6; ++i) {
      backoff.next(0.5);
    }
    backoff.reset();
    CHECK(backoff.attempts() == 0);
    CHECK(backoff.next(0.5) == milliseconds(250));
  }

  SECTION("without jitter: the ceiling itself, as a server retrying its one peer waits") {
    Backoff backoff({milliseconds(100), milliseconds(2000)});
    std::vector<long> delays;
    for (int i = 0; i < 7; ++i) {
      delays.push_back(static_cast<long>(backoff.next_ceiling().count()));
    }
    CHECK(delays == std::vector<long>{100, 200, 400, 800, 1600, 2000, 2000});
    backoff.reset();
    CHECK(backoff.next_ceiling() == milliseconds(100));
  }

  SECTION("policy bounds and random values out of range are clamped") {
    Backoff backoff({milliseconds(100), milliseconds(1000)});
    CHECK(backoff.next(2.0) == milliseconds(100));
    CHECK(backoff.next(-1.0) == milliseconds(0));
    for (int i = 0; i < 100; ++i) {
      CHECK(backoff.next(1.0) <= milliseconds(1000));
    }
  }
}
