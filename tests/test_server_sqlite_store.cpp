#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "server/sqlite.hpp"
#include "server/sqlite_store.hpp"
#include "tests/support/helpers.hpp"
#include "wire/id.hpp"

using namespace livechat;
using livechat::test::TempDir;

namespace {

wire::Message message(std::int64_t micros, const std::string& room = "general") {
  return {wire::format_id(micros), "content " + std::to_string(micros), "tester", room,
          wire::format_timestamp(micros)};
}

std::vector<std::string> ids(const server::MessageStore::Batch& batch) {
  std::vector<std::string> out;
  for (const auto& m : batch) {
    out.push_back(m.id);
  }
  return out;
}

constexpr std::int64_t k_base = 1'704'110'400'000'000;  // 2024-01-01T12:00:00Z

}  // namespace

TEST_CASE("server::SqliteStore") {
  TempDir dir;

  SECTION("stores, reports and hands on each message once it is committed, in order") {
    server::SqliteStore store(dir.file("a.db"));
    std::vector<std::string> handed_on;
    std::mutex mutex;
    store.on_stored([&](const server::MessageStore::Batch& batch) {
      std::lock_guard lock(mutex);
      for (const auto& m : batch) {
        handed_on.push_back(m.id);
      }
    });
    std::vector<std::string> expected;
    for (int i = 0; i < 10; ++i) {
      expected.push_back(message(k_base + i).id);
      REQUIRE(store.wait_stored(store.enqueue(message(k_base + i))));
    }
    CHECK(store.size() == 10);
    CHECK(store.newest_id() == expected.back());
    CHECK(store.kind() == "sqlite");
    store.on_stored({});
    CHECK(handed_on == expected);
  }

  SECTION("concurrent writers share commits and lose nothing") {
    server::SqliteStore store(dir.file("b.db"));
    std::mutex order;
    std::int64_t next = k_base;
    std::vector<std::thread> writers;
    for (int t = 0; t < 8; ++t) {
      writers.emplace_back([&] {
        for (int i = 0; i < 100; ++i) {
          std::uint64_t ticket = 0;
          {
            std::lock_guard lock(order);  // ids enqueued in id order, as the service does
            ticket = store.enqueue(message(next++));
          }
          CHECK(store.wait_stored(ticket));
        }
      });
    }
    for (auto& w : writers) {
      w.join();
    }
    CHECK(store.size() == 800);
    auto all = store.query({std::string(""), std::nullopt, std::nullopt, 1000});
    REQUIRE(all.size() == 800);
    CHECK(std::is_sorted(all.begin(), all.end(),
                         [](const auto& a, const auto& b) { return a.id < b.id; }));
  }

  SECTION("history: after and before an id, by room, limited, oldest first") {
    server::SqliteStore store(":memory:");
    for (int i = 0; i < 10; ++i) {
      store.wait_stored(store.enqueue(message(k_base + i, i % 2 == 0 ? "even" : "odd")));
    }
    auto id = [](int i) { return wire::format_id(k_base + i); };
    CHECK(ids(store.query({std::nullopt, std::nullopt, std::nullopt, 3})) ==
          std::vector<std::string>{id(7), id(8), id(9)});
    CHECK(ids(store.query({id(6), std::nullopt, std::nullopt, 100})) ==
          std::vector<std::string>{id(7), id(8), id(9)});
    CHECK(ids(store.query({std::nullopt, id(3), std::nullopt, 2})) ==
          std::vector<std::string>{id(1), id(2)});
    CHECK(ids(store.query({id(1), id(8), std::string("even"), 100})) ==
          std::vector<std::string>{id(2), id(4), id(6)});
    CHECK(store.query({std::nullopt, std::nullopt, std::string("none"), 10}).empty());
  }

  SECTION("survives a reopen: messages, newest id and the delivery cursor") {
    {
      server::SqliteStore store(dir.file("c.db"));
      for (int i = 0; i < 5; ++i) {
        store.wait_stored(store.enqueue(message(k_base + i)));
      }
      CHECK(store.undelivered().size() == 5);
      store.mark_delivered(wire::format_id(k_base + 2));
    }
    server::SqliteStore reopened(dir.file("c.db"));
    CHECK(reopened.size() == 5);
    CHECK(reopened.newest_id() == wire::format_id(k_base + 4));
    CHECK(ids(reopened.undelivered()) ==
          std::vector<std::string>{wire::format_id(k_base + 3), wire::format_id(k_base + 4)});
  }

  SECTION("a file that is not a database is a clear error") {
    std::ofstream(dir.file("junk.db")) << std::string(4096, 'j');
    CHECK_THROWS_WITH(server::SqliteStore(dir.file("junk.db")), Catch::Contains("not a database"));
    CHECK_THROWS_AS(server::SqliteStore(dir.path().string()), server::sqlite::Error);
    CHECK_THROWS_AS(server::SqliteStore(dir.file("missing/dir.db")), server::sqlite::Error);
  }
}
