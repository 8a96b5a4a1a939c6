#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "wire/id.hpp"

namespace livechat::wire {
namespace {

// 2024-01-01T12:00:00.123456Z in microseconds since the epoch.
constexpr std::int64_t k_instant = 1'704'110'400'123'456;

// Returns the generated ids, requiring each to sort strictly after the one before it.
std::vector<std::string> generate(IdGenerator& generator, std::size_t count) {
  std::vector<std::string> ids;
  for (std::size_t i = 0; i < count; ++i) {
    ids.push_back(generator.next().id);
    if (ids.size() > 1) {
      REQUIRE(ids[ids.size() - 2] < ids.back());
    }
  }
  return ids;
}

}  // namespace

TEST_CASE("id::format_id and format_timestamp") {
  SECTION("format a known instant") {
    CHECK(format_id(k_instant) == "20240101120000.123456");
    CHECK(format_timestamp(k_instant) == "2024-01-01T12:00:00.123456Z");
  }
  SECTION("pad every part to a fixed width") {
    CHECK(format_id(0) == "19700101000000.000000");
    CHECK(format_timestamp(0) == "1970-01-01T00:00:00.000000Z");
    CHECK(format_id(1'000'001) == "19700101000001.000001");
  }
  SECTION("handle instants before the epoch") {
    CHECK(format_id(-1) == "19691231235959.999999");
    CHECK(format_timestamp(-1) == "1969-12-31T23:59:59.999999Z");
  }
}

TEST_CASE("id::parse_id") {
  SECTION("round-trips format_id") {
    for (std::int64_t micros :
         {k_instant, std::int64_t{0}, std::int64_t{-1}, std::int64_t{951'782'400'000'000},
          std::int64_t{4'102'444'799'999'999}}) {
      INFO(micros);
      auto parsed = parse_id(format_id(micros));
      REQUIRE(parsed.has_value());
      CHECK(*parsed == micros);
    }
  }
  SECTION("rejects malformed ids") {
    for (auto bad : {"",
                     "20240101120000",
                     "20240101120000.12345",
                     "20240101120000.1234567",
                     "20240101120000-123456",
                     "2024010112000.0123456",
                     "2024010112000a.123456",
                     "20240101120000.12345x",
                     "-0240101120000.123456",
                     " 0240101120000.123456",
                     "20241301120000.123456",
                     "20240001120000.123456",
                     "20240100120000.123456",
                     "20240132120000.123456",
                     "20240101240000.123456",
                     "20240101126000.123456",
                     "20240101120061.123456",
                     "20240230120000.000000",
                     "20230229120000.000000",
                     "20240101120060.000000"}) {
      INFO(bad);
      CHECK_FALSE(parse_id(bad).has_value());
    }
  }
}

TEST_CASE("id::IdGenerator") {
  SECTION("uses the clock's time when it moves forward") {
    std::int64_t now = k_instant;
    IdGenerator generator([&] { return now; });
    Stamp first = generator.next();
    CHECK(first.id == "20240101120000.123456");
    CHECK(first.timestamp == "2024-01-01T12:00:00.123456Z");
    now += 1'000'000;
    CHECK(generator.next().id == "20240101120001.123456");
  }
  SECTION("stays strictly increasing when the clock stands still") {
    IdGenerator generator([] { return k_instant; });
    auto ids = generate(generator, 3);
    CHECK(ids == std::vector<std::string>{"20240101120000.123456", "20240101120000.123457",
                                          "20240101120000.123458"});
  }
  SECTION("stays strictly increasing when the clock goes back") {
    std::int64_t now = k_instant;
    IdGenerator generator([&] { return now; });
    auto before = generator.next().id;
    now -= 3'600'000'000;
    auto after = generator.next().id;
    CHECK(before < after);
    CHECK(after == "20240101120000.123457");
  }
  SECTION("the timestamp names the same instant as the id") {
    IdGenerator generator;
    Stamp stamp = generator.next();
    auto micros = parse_id(stamp.id);
    REQUIRE(micros.has_value());
    CHECK(format_timestamp(*micros) == stamp.timestamp);
  }
  SECTION("ids are fixed width, so string order is generation order") {
    std::mt19937_64 random(12345);
    std::int64_t now = k_instant;
    IdGenerator generator([&] {
      // Jumps around by up to a day either way, crossing digit and date boundaries.
      now += static_cast<std::int64_t>(random() % 172'800'000'000ULL) - 86'400'000'000;
      return now;
    });
    const auto ids = generate(generator, 10'000);
    CHECK(std::set<std::string>(ids.begin(), ids.end()).size() == ids.size());
    CHECK(
        std::all_of(ids.begin(), ids.end(), [](const std::string& id) { return id.size() == 21; }));
    auto shuffled = ids;
    std::shuffle(shuffled.begin(), shuffled.end(), random);
    std::sort(shuffled.begin(), shuffled.end());
    CHECK(shuffled == ids);
  }
  SECTION("observe() raises the floor for later ids") {
    IdGenerator generator([] { return k_instant; });
    generator.observe("20250101000000.000000");
    CHECK(generator.next().id == "20250101000000.000001");
  }
  SECTION("observe() never lowers the floor and ignores malformed ids") {
    IdGenerator generator([] { return k_instant; });
    generator.next();
    generator.observe("20200101000000.000000");
    generator.observe("99999999999999.999999");
    generator.observe("not an id");
    CHECK(generator.next().id == "20240101120000.123457");
  }
  SECTION("concurrent callers get unique ids, increasing per caller") {
    // A clock that jitters back and forth, so callers often see it stand still or go back.
    std::atomic<std::int64_t> calls{0};
    IdGenerator generator([&] { return k_instant + calls.fetch_add(1) % 7; });
    constexpr int k_threads = 4;
    constexpr std::size_t k_per_thread = 2'500;
    std::vector<std::vector<std::string>> results(k_threads);
    std::vector<std::thread> threads;
    for (int t = 0; t < k_threads; ++t) {
      threads.emplace_back([&, t] {
        for (std::size_t i = 0; i < k_per_thread; ++i) {
          results[static_cast<std::size_t>(t)].push_back(generator.next().id);
        }
      });
    }
    for (auto& thread : threads) {
      thread.join();
    }
    std::set<std::string> unique;
    for (const auto& ids : results) {
      CHECK(std::is_sorted(ids.begin(), ids.end()));
      CHECK(std::adjacent_find(ids.begin(), ids.end()) == ids.end());
      unique.insert(ids.begin(), ids.end());
    }
    CHECK(unique.size() == k_threads * k_per_thread);
  }
}

}  // namespace livechat::wire
