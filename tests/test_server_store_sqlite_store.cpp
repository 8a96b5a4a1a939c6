#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "server/store/sqlite.hpp"
#include "server/store/sqlite_store.hpp"
#include "tests/support/helpers.hpp"
#include "wire/id.hpp"

using namespace livechat;
using livechat::test::ids_of;
using livechat::test::numbered_draft;
using livechat::test::TempDir;
using namespace std::chrono_literals;

namespace {

constexpr std::int64_t k_base = 1'704'110'400'000'000;  // 2024-01-01T12:00:00Z

// A clock that stands still: ids then go up one microsecond at a time from k_base.
std::int64_t still_clock() { return k_base; }

std::string id(int i) { return wire::format_id(k_base + i); }

}  // namespace

TEST_CASE("server::store::SqliteStore") {
  TempDir dir;

  SECTION("stamps, stores and hands on each message once it is committed, in order") {
    server::store::SqliteStore store(dir.file("a.db"), still_clock);
    std::vector<std::string> handed_on;
    std::mutex mutex;
    store.on_stored([&](const server::store::MessageStore::Batch& batch) {
      std::lock_guard lock(mutex);
      for (const auto& m : batch) {
        handed_on.push_back(m.id);
      }
    });
    std::vector<std::string> expected;
    for (int i = 0; i < 10; ++i) {
      expected.push_back(id(i));
      auto stored = store.wait_stored(store.enqueue(numbered_draft(i)));
      REQUIRE(stored);
      CHECK(stored->id == id(i));
      CHECK(stored->timestamp == wire::format_timestamp(k_base + i));
      CHECK(stored->content == "content " + std::to_string(i));
    }
    CHECK(store.size() == 10);
    CHECK(store.kind() == "sqlite");
    store.on_stored({});
    CHECK(handed_on == expected);
  }

  SECTION("concurrent writers share commits and lose nothing") {
    server::store::SqliteStore store(dir.file("b.db"));
    std::vector<std::thread> writers;
    for (int t = 0; t < 8; ++t) {
      writers.emplace_back([&store, t] {
        for (int i = 0; i < 100; ++i) {
          CHECK(store.wait_stored(store.enqueue(numbered_draft(t * 100 + i))));
        }
      });
    }
    for (auto& w : writers) {
      w.join();
    }
    CHECK(store.size() == 800);
    auto all = *store.query({std::string(""), std::nullopt, std::nullopt, 1000});
    REQUIRE(all.size() == 800);
    CHECK(std::is_sorted(all.begin(), all.end(),
                         [](const auto& a, const auto& b) { return a.id < b.id; }));
  }

  SECTION("history: after and before an id, by room, limited, oldest first") {
    server::store::SqliteStore store(":memory:", still_clock);
    for (int i = 0; i < 10; ++i) {
      store.wait_stored(store.enqueue(numbered_draft(i, i % 2 == 0 ? "even" : "odd")));
    }
    CHECK(ids_of(*store.query({std::nullopt, std::nullopt, std::nullopt, 3})) ==
          std::vector<std::string>{id(7), id(8), id(9)});
    CHECK(ids_of(*store.query({id(6), std::nullopt, std::nullopt, 100})) ==
          std::vector<std::string>{id(7), id(8), id(9)});
    CHECK(ids_of(*store.query({std::nullopt, id(3), std::nullopt, 2})) ==
          std::vector<std::string>{id(1), id(2)});
    CHECK(ids_of(*store.query({id(1), id(8), std::string("even"), 100})) ==
          std::vector<std::string>{id(2), id(4), id(6)});
    CHECK(store.query({std::nullopt, std::nullopt, std::string("none"), 10})->empty());
  }

  SECTION("survives a reopen: messages, the delivery cursor, ids after the newest") {
    {
      server::store::SqliteStore store(dir.file("c.db"), still_clock);
      for (int i = 0; i < 5; ++i) {
        store.wait_stored(store.enqueue(numbered_draft(i)));
      }
      CHECK(store.undelivered().size() == 5);
      store.mark_delivered(id(2));
    }
    // The clock went back an hour meanwhile: ids still go on after the newest stored one.
    server::store::SqliteStore reopened(dir.file("c.db"), [] { return k_base - 3'600'000'000; });
    CHECK(reopened.size() == 5);
    CHECK(ids_of(reopened.undelivered()) == std::vector<std::string>{id(3), id(4)});
    auto next = reopened.wait_stored(reopened.enqueue(numbered_draft(5)));
    REQUIRE(next);
    CHECK(next->id == id(5));
  }

  SECTION("a database another process holds locked: not writable after a second; free: writable") {
    server::store::SqliteStore store(dir.file("a.db"), still_clock);
    REQUIRE(store.wait_stored(store.enqueue(numbered_draft(0))));
    CHECK(store.health().writable);
    server::store::sqlite::Database other(dir.file("a.db"));
    other.exec("BEGIN IMMEDIATE");  // the write lock, as another writer would hold it
    auto ticket = store.enqueue(numbered_draft(1));
    // The commit waits for the lock (up to 5 s); after a second, health says so.
    REQUIRE(livechat::test::eventually([&] { return !store.health().writable; }, 4s));
    CHECK(store.health().reachable);
    CHECK(store.health().error.find("locked") != std::string::npos);
    // Held past SQLite's own 5 s wait, the commit fails: the post is refused, and health keeps
    // the database's reason.
    CHECK_FALSE(store.wait_stored(ticket));
    CHECK_FALSE(store.health().writable);
    CHECK(store.health().error == "database is locked");
    other.exec("ROLLBACK");
    // No post needed: the store's own probe commit finds it writable again.
    REQUIRE(livechat::test::eventually([&] { return store.health().writable; }, 10s));
    CHECK(store.health().error.empty());
    REQUIRE(store.wait_stored(store.enqueue(numbered_draft(2))));
    CHECK(store.size() == 2);
  }

  SECTION("a file that is not a database is a clear error") {
    std::ofstream(dir.file("junk.db")) << std::string(4096, 'j');
    CHECK_THROWS_WITH(server::store::SqliteStore(dir.file("junk.db")),
                      Catch::Contains("not a database"));
    CHECK_THROWS_AS(server::store::SqliteStore(dir.path().string()), server::store::sqlite::Error);
    CHECK_THROWS_AS(server::store::SqliteStore(dir.file("missing/dir.db")),
                    server::store::sqlite::Error);
  }
}
