#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>

#include "server/store/sqlite.hpp"
#include "server/store/sqlite_store.hpp"
#include "tests/support/helpers.hpp"
#include "tests/support/store_calls.hpp"
#include "wire/id.hpp"

using namespace livechat;
using livechat::test::change_draft;
using livechat::test::ids_of;
using livechat::test::numbered_draft;
using livechat::test::TempDir;
using livechat::test::upkeep;
using livechat::test::write_one;
using namespace std::chrono_literals;

namespace {

constexpr std::int64_t k_base = 1'704'110'400'000'000;  // 2024-01-01T12:00:00Z

// A clock that stands still: ids then go up one microsecond at a time from k_base.
std::int64_t still_clock() { return k_base; }

std::string id(int i) { return wire::format_id(k_base + i); }

}  // namespace

TEST_CASE("server::store::SqliteStore") {
  TempDir dir;

  SECTION("stamps and stores each batch whole, in order") {
    server::store::SqliteStore store(dir.file("a.db"), still_clock);
    std::vector<wire::Draft> drafts;
    for (int i = 0; i < 3; ++i) {
      drafts.push_back(numbered_draft(i));
    }
    auto batch = store.write(drafts);
    REQUIRE(batch);
    CHECK(ids_of(batch->stored) == std::vector<std::string>{id(0), id(1), id(2)});
    for (int i = 3; i < 10; ++i) {
      auto stored = write_one(store, numbered_draft(i));
      REQUIRE(stored);
      CHECK(stored->id == id(i));
      CHECK(stored->timestamp == wire::format_timestamp(k_base + i));
      CHECK(stored->content == "content " + std::to_string(i));
    }
    CHECK(store.size() == 10);
    CHECK(store.kind() == "sqlite");
    CHECK(upkeep(store));
    CHECK(store.size() == 10);
    auto all = *store.query({std::string(""), std::nullopt, std::nullopt, 1000});
    CHECK(ids_of(all).size() == 10);
    CHECK(std::is_sorted(all.begin(), all.end(),
                         [](const auto& a, const auto& b) { return a.id < b.id; }));
  }

  SECTION("history: after and before an id, by room, limited, oldest first") {
    server::store::SqliteStore store(":memory:", still_clock);
    for (int i = 0; i < 10; ++i) {
      write_one(store, numbered_draft(i, i % 2 == 0 ? "even" : "odd"));
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

  SECTION("survives a reopen: messages, the forwarded cursor, ids after the newest") {
    {
      server::store::SqliteStore store(dir.file("c.db"), still_clock);
      for (int i = 0; i < 5; ++i) {
        REQUIRE(write_one(store, numbered_draft(i)));
      }
      CHECK(store.unforwarded().size() == 5);
      store.mark_forwarded(id(2));
      store.mark_forwarded(id(1));  // an older confirmation does not move it back
      CHECK(ids_of(store.unforwarded()).size() == 5);  // kept by the next write
      REQUIRE(upkeep(store));
      CHECK(ids_of(store.unforwarded()) == std::vector<std::string>{id(3), id(4)});
    }
    // The clock went back an hour meanwhile: ids still go on after the newest stored one.
    server::store::SqliteStore reopened(dir.file("c.db"), [] { return k_base - 3'600'000'000; });
    CHECK(reopened.size() == 5);
    CHECK(ids_of(reopened.unforwarded()) == std::vector<std::string>{id(3), id(4)});
    auto next = write_one(reopened, numbered_draft(5));
    REQUIRE(next);
    CHECK(next->id == id(5));
  }

  SECTION("a database another process holds locked: not writable after a second; free: writable") {
    server::store::SqliteStore store(dir.file("a.db"), still_clock);
    REQUIRE(write_one(store, numbered_draft(0)));
    CHECK(store.health().writable);
    server::store::sqlite::Database other(dir.file("a.db"));
    other.exec("BEGIN IMMEDIATE");  // the write lock, as another writer would hold it
    auto post = std::async(std::launch::async, [&] { return write_one(store, numbered_draft(1)); });
    // The commit waits for the lock (up to 5 s); after a second, health says so.
    REQUIRE(livechat::test::eventually([&] { return !store.health().writable; }, 4s));
    CHECK(store.health().reachable);
    CHECK(store.health().error.find("locked") != std::string::npos);
    // Held past SQLite's own 5 s wait, the commit fails: the post is refused, and health keeps
    // the database's reason.
    CHECK_FALSE(post.get());
    CHECK_FALSE(store.health().writable);
    CHECK(store.health().error == "database is locked");
    other.exec("ROLLBACK");
    // No post needed: an idle write (the probe commit) finds it writable again.
    REQUIRE(livechat::test::eventually(
        [&] {
          upkeep(store);
          return store.health().writable;
        },
        10s));
    CHECK(store.health().error.empty());
    REQUIRE(write_one(store, numbered_draft(2)));
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

TEST_CASE("server::store::SqliteStore changes and keys") {
  TempDir dir;

  SECTION("a file made by the release before chat events opens, migrated in place") {
    const std::string path = dir.file("old.db");
    std::filesystem::copy_file(std::string(LIVECHAT_SOURCE_DIR) + "/tests/data/release-2026-12.db",
                               path);
    std::string newest_old;
    {
      server::store::SqliteStore store(path);
      auto old = store.query({std::nullopt, std::nullopt, std::nullopt, 100});
      REQUIRE(old);
      REQUIRE(old->size() == 3);
      CHECK((*old)[0].content == "first message");
      CHECK((*old)[1].room == "ops");
      newest_old = (*old)[2].id;
      auto edited = test::answer_one(
          store, change_draft(wire::EventKind::edit, (*old)[0].id, "ann", "fixed"));
      REQUIRE(edited);
      REQUIRE(edited->ok());
      CHECK((*edited)->edited.size() > 0);
      CHECK(store.unforwarded().size() == 1);  // the old file forwarded all three; the edit not
    }
    server::store::sqlite::Database db(path);
    CHECK(db.scalar("PRAGMA user_version") == "1");
    server::store::SqliteStore again(path);  // opening a migrated file changes nothing
    auto now = again.query({std::nullopt, std::nullopt, std::nullopt, 100});
    REQUIRE(now);
    REQUIRE(now->size() == 3);
    CHECK((*now)[0].content == "fixed");
    auto next = write_one(again, numbered_draft(1));
    REQUIRE(next);
    CHECK(next->id > newest_old);
  }

  SECTION("a database of a newer schema is refused, not changed") {
    const std::string path = dir.file("new.db");
    {
      server::store::sqlite::Database db(path);
      db.exec("PRAGMA user_version = 99");
    }
    CHECK_THROWS_AS(server::store::SqliteStore(path), server::store::sqlite::Error);
  }

  SECTION("changes in one batch see the posts before them, and refusals store nothing") {
    server::store::SqliteStore store(":memory:", still_clock);
    auto posted = write_one(store, numbered_draft(0));
    REQUIRE(posted);
    std::vector<wire::Draft> drafts;
    drafts.push_back(change_draft(wire::EventKind::edit, posted->id, "tester", "edited"));
    drafts.push_back(change_draft(wire::EventKind::edit, posted->id, "mallory", "mine now"));
    drafts.push_back(change_draft(wire::EventKind::reaction, posted->id, "bob", "", "👍"));
    drafts.push_back(change_draft(wire::EventKind::reaction, posted->id, "bob", "", "👍"));
    drafts.push_back(change_draft(wire::EventKind::deletion, posted->id, "tester"));
    drafts.push_back(change_draft(wire::EventKind::reaction, posted->id, "cat", "", "👍"));
    auto written = store.write(drafts);
    REQUIRE(written);
    REQUIRE(written->answers.size() == 6);
    CHECK(written->stored.size() == 3);  // the edit, one reaction, the delete
    CHECK(std::get<wire::ApiError>(written->answers[1]).kind == wire::ApiErrorKind::not_author);
    CHECK(std::get<wire::Message>(written->answers[3]).reactions.size() == 1);
    CHECK(std::get<wire::ApiError>(written->answers[5]).kind == wire::ApiErrorKind::gone);
    CHECK(written->stored[0].kind == wire::EventKind::edit);
    CHECK(written->stored[1].kind == wire::EventKind::reaction);
    CHECK(written->stored[2].kind == wire::EventKind::deletion);
    CHECK(written->stored[2].room == "general");
    CHECK(store.query({std::nullopt, std::nullopt, std::nullopt, 100})->empty());
    auto log = store.recent(10, "");
    REQUIRE(log);
    CHECK(log->size() == 4);
    CHECK(std::is_sorted(log->begin(), log->end(),
                         [](const auto& a, const auto& b) { return a.id < b.id; }));
  }

  SECTION("a key's retry gets the first answer; the key with another body is refused") {
    server::store::SqliteStore store(":memory:", still_clock);
    auto keyed = [](const std::string& content) {
      wire::Draft draft = numbered_draft(0);
      draft.content = content;
      draft.idempotency_key = "k";
      draft.fingerprint = wire::post_fingerprint(draft);
      return draft;
    };
    std::vector<wire::Draft> drafts{keyed("one"), keyed("one"), keyed("two")};
    auto written = store.write(drafts);
    REQUIRE(written);
    CHECK(written->stored.size() == 1);
    CHECK(std::get<std::size_t>(written->answers[0]) == 0);
    CHECK(std::get<wire::Message>(written->answers[1]) == written->stored[0]);
    CHECK(std::get<wire::ApiError>(written->answers[2]).kind ==
          wire::ApiErrorKind::idempotency_key_reused);
    CHECK(store.size() == 1);
  }
}
