// The Redis store's edits, deletes, reactions and idempotency keys, against a real redis-server.
#include <catch2/catch.hpp>

#include "server/redis/stream_append.hpp"
#include "server/redis/stream_format.hpp"
#include "server/store/redis_store.hpp"
#include "tests/support/redis_server.hpp"
#include "tests/support/store_calls.hpp"

using namespace livechat;
using livechat::test::change_draft;
using livechat::test::ids_of;
using livechat::test::numbered_draft;
using livechat::test::RedisServer;
using livechat::test::write_one;

namespace {

wire::RedisAddress address(const RedisServer& redis) { return *wire::parse_redis_url(redis.url()); }

wire::Draft keyed(const std::string& content, const std::string& key,
                  const std::string& user = "tester") {
  wire::Draft draft = numbered_draft(0);
  draft.content = content;
  draft.user = user;
  draft.idempotency_key = key;
  draft.fingerprint = wire::post_fingerprint(draft);
  return draft;
}

// Writes one draft; returns how it was answered.
server::store::MessageStore::Written write_draft(server::store::MessageStore& store,
                                                 wire::Draft draft) {
  std::vector<wire::Draft> drafts{std::move(draft)};
  auto written = store.write(drafts);
  REQUIRE(written);
  REQUIRE(written->answers.size() == 1);
  return std::move(*written);
}

// Returns how a draft was refused, or nothing if it was not.
std::optional<wire::ApiErrorKind> refusal(server::store::MessageStore& store, wire::Draft draft) {
  auto written = write_draft(store, std::move(draft));
  if (const auto* error = std::get_if<wire::ApiError>(&written.answers[0])) {
    return error->kind;
  }
  return std::nullopt;
}

// Writes one draft that must not be refused; returns the message it was answered with.
wire::Message answered(server::store::MessageStore& store, wire::Draft draft) {
  auto written = write_draft(store, std::move(draft));
  REQUIRE_FALSE(std::holds_alternative<wire::ApiError>(written.answers[0]));
  if (const auto* index = std::get_if<std::size_t>(&written.answers[0])) {
    return written.stored.at(*index);
  }
  return std::get<wire::Message>(written.answers[0]);
}

std::vector<wire::Message> history(const server::store::MessageStore& store,
                                   std::size_t limit = 100) {
  auto all = store.query({std::nullopt, std::nullopt, std::nullopt, limit});
  REQUIRE(all);
  return *all;
}

}  // namespace

TEST_CASE("server::store::RedisStore changes and keys", "[redis]") {
  RedisServer redis;
  server::store::RedisStore store(address(redis));
  auto posted = write_one(store, numbered_draft(0));
  REQUIRE(posted);
  const std::string id = posted->id;

  SECTION("an edit is stored as an event and answered with the message in its new state") {
    std::vector<wire::Draft> drafts{change_draft(wire::EventKind::edit, id, "tester", "edited")};
    auto written = store.write(drafts);
    REQUIRE(written);
    REQUIRE(written->stored.size() == 1);
    const auto& event = written->stored[0];
    CHECK(event.kind == wire::EventKind::edit);
    CHECK(event.message_id == id);
    CHECK(event.content == "edited");
    CHECK(event.room == "general");
    CHECK(event.id > id);
    auto state = std::get<wire::Message>(written->answers[0]);
    CHECK(state.id == id);
    CHECK(state.content == "edited");
    CHECK(state.timestamp == posted->timestamp);
    CHECK(state.edited == event.timestamp);
    auto kept = history(store);
    REQUIRE(kept.size() == 1);
    CHECK(kept[0] == state);
    // The stream holds both, as the notification nodes read them.
    auto log = store.recent(10, "");
    REQUIRE(log);
    REQUIRE(log->size() == 2);
    CHECK((*log)[1] == event);
  }

  SECTION("refusals: another user, an unknown id, a change's id, a deleted message") {
    using K = wire::ApiErrorKind;
    CHECK(refusal(store, change_draft(wire::EventKind::edit, id, "mallory", "mine")) ==
          K::not_author);
    CHECK(refusal(store, change_draft(wire::EventKind::deletion, id, "mallory")) == K::not_author);
    CHECK(refusal(store, change_draft(wire::EventKind::edit, "20000101000000.000000", "tester",
                                      "x")) == K::not_found);
    CHECK(refusal(store, change_draft(wire::EventKind::reaction, "not-an-id", "bob", "", "ok")) ==
          K::not_found);
    answered(store, change_draft(wire::EventKind::edit, id, "tester", "v2"));
    auto log = store.recent(10, "");
    REQUIRE(log->size() == 2);
    const std::string edit_id = log->back().id;
    CHECK(refusal(store, change_draft(wire::EventKind::edit, edit_id, "tester", "x")) ==
          K::not_found);
    auto deleted = answered(store, change_draft(wire::EventKind::deletion, id, "tester"));
    CHECK(deleted.id == id);
    CHECK(deleted.kind == wire::EventKind::deletion);
    CHECK(refusal(store, change_draft(wire::EventKind::edit, id, "tester", "x")) == K::gone);
    CHECK(refusal(store, change_draft(wire::EventKind::deletion, id, "tester")) == K::gone);
    CHECK(refusal(store, change_draft(wire::EventKind::reaction, id, "bob", "", "ok")) == K::gone);
    CHECK(history(store).empty());
    // The message, the edit, the delete: no refusal was stored.
    CHECK(store.recent(10, "")->size() == 3);
  }

  SECTION("reactions: in the order made; one already so stores nothing and answers the state") {
    std::vector<wire::Draft> drafts{
        change_draft(wire::EventKind::reaction, id, "bob", "", "👍"),
        change_draft(wire::EventKind::reaction, id, "bob", "", "👍"),
        change_draft(wire::EventKind::reaction, id, "ann", "", "❤"),
        change_draft(wire::EventKind::reaction, id, "ann", "", "👍"),
        change_draft(wire::EventKind::reaction, id, "bob", "", "👍", true),
        change_draft(wire::EventKind::reaction, id, "cat", "", "❤", true),
        change_draft(wire::EventKind::reaction, id, "bob", "", "👍"),
    };
    auto written = store.write(drafts);
    REQUIRE(written);
    REQUIRE(written->answers.size() == 7);
    CHECK(written->stored.size() == 5);  // the second and the sixth were already so
    auto state = [&](std::size_t i) { return std::get<wire::Message>(written->answers[i]); };
    using R = std::vector<wire::Reaction>;
    CHECK(state(1).reactions == R{{"👍", {"bob"}}});
    CHECK(state(3).reactions == R{{"👍", {"bob", "ann"}}, {"❤", {"ann"}}});
    CHECK(state(5).reactions == R{{"❤", {"ann"}}, {"👍", {"ann"}}});
    CHECK(state(6).reactions == R{{"❤", {"ann"}}, {"👍", {"ann", "bob"}}});
    CHECK(written->stored[3].removed);
    CHECK(written->stored[3].emoji == "👍");
    CHECK(written->stored[3].user == "bob");
    CHECK(history(store)[0].reactions == state(6).reactions);
  }

  SECTION("a keyed post's retry answers the first answer, also from another node") {
    server::store::RedisStore other(address(redis));
    auto first = answered(store, keyed("once", "k-1"));
    answered(store, change_draft(wire::EventKind::edit, first.id, "tester", "edited"));
    std::vector<wire::Draft> drafts{keyed("once", "k-1"), keyed("twice", "k-1"),
                                    keyed("once", "k-1", "bob")};
    auto written = other.write(drafts);
    REQUIRE(written);
    REQUIRE(written->answers.size() == 3);
    // The message as first stored, not as edited since.
    CHECK(std::get<wire::Message>(written->answers[0]) == first);
    CHECK(std::get<wire::ApiError>(written->answers[1]).kind ==
          wire::ApiErrorKind::idempotency_key_reused);
    REQUIRE(written->stored.size() == 1);  // bob's: keys are the caller's own
    CHECK(std::get<std::size_t>(written->answers[2]) == 0);
    CHECK(written->stored[0].user == "bob");
    // A key seen first in the same batch is a repeat there already.
    std::vector<wire::Draft> twice{keyed("new", "k-2"), keyed("new", "k-2")};
    auto batch = store.write(twice);
    REQUIRE(batch);
    REQUIRE(batch->stored.size() == 1);
    CHECK(std::get<wire::Message>(batch->answers[1]) == batch->stored[0]);
    server::redis::Connection admin(address(redis), std::chrono::milliseconds(2000));
    auto ttl = admin.command({"TTL", server::redis::idempotency_key("tester", "k-2")});
    REQUIRE(ttl);
    CHECK(ttl->integer > 86'000);
    CHECK(ttl->integer <= 86'400);
  }

  SECTION("history counts messages only: changes and deleted messages do not use up the limit") {
    std::vector<std::string> ids{id};
    for (int i = 1; i < 6; ++i) {
      ids.push_back(write_one(store, numbered_draft(i))->id);
    }
    // Many changes after them all, and the two newest deleted.
    for (const std::string user : {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}) {
      for (const auto& m : ids) {
        answered(store, change_draft(wire::EventKind::reaction, m, user, "", "ok"));
      }
    }
    answered(store, change_draft(wire::EventKind::deletion, ids[5], "tester"));
    answered(store, change_draft(wire::EventKind::deletion, ids[4], "tester"));
    using S = std::vector<std::string>;
    CHECK(ids_of(history(store, 3)) == S{ids[1], ids[2], ids[3]});
    CHECK(ids_of(*store.query({ids[0], std::nullopt, std::nullopt, 2})) == S{ids[1], ids[2]});
    CHECK(ids_of(*store.query({ids[2], std::nullopt, std::nullopt, 100})) == S{ids[3]});
    CHECK(ids_of(*store.query({std::nullopt, ids[3], std::string("general"), 100})) ==
          S{ids[0], ids[1], ids[2]});
    CHECK(history(store, 1)[0].reactions.at(0).users.size() == 10);
  }
}

TEST_CASE("server::store::RedisStore: a trimmed message takes its state along", "[redis]") {
  RedisServer redis;
  server::redis::Connection admin(address(redis), std::chrono::milliseconds(2000));
  // Small stream nodes, so that MAXLEN ~ trims a few entries at a time.
  REQUIRE(admin.command({"CONFIG", "SET", "stream-node-max-entries", "4"}));
  server::store::RedisStoreOptions options;
  options.max_length = 8;
  server::store::RedisStore store(address(redis), options);
  auto first = write_one(store, numbered_draft(0));
  REQUIRE(first);
  answered(store, change_draft(wire::EventKind::reaction, first->id, "bob", "", "ok"));
  const std::string state_key =
      std::string(server::redis::k_state_prefix) + *server::redis::entry_id(first->id);
  CHECK(admin.command({"EXISTS", state_key})->integer == 1);
  for (int i = 1; i < 20; ++i) {
    REQUIRE(write_one(store, numbered_draft(i)));
  }
  CHECK(store.size() <= 12);
  CHECK(admin.command({"EXISTS", state_key})->integer == 0);
  CHECK(admin.command({"ZCARD", std::string(server::redis::k_changed_key)})->integer == 0);
  CHECK(refusal(store, change_draft(wire::EventKind::edit, first->id, "tester", "x")) ==
        wire::ApiErrorKind::not_found);
}
