#include <catch2/catch.hpp>

#include "server/redis/stream_format.hpp"
#include "wire/id.hpp"

using namespace livechat;
using server::redis::Value;

namespace {

Value text(std::string s) { return {Value::Type::string, std::move(s), 0, {}}; }

Value entry(const std::string& id, std::vector<std::string> fields) {
  Value pairs{Value::Type::array, {}, 0, {}};
  for (auto& f : fields) {
    pairs.items.push_back(text(std::move(f)));
  }
  return {Value::Type::array, {}, 0, {text(id), pairs}};
}

}  // namespace

TEST_CASE("server::redis stream entries") {
  SECTION("message ids and entry ids turn into each other, in the same order") {
    const std::int64_t micros = 1'704'110'400'123'456;  // 2024-01-01T12:00:00.123456Z
    auto id = wire::format_id(micros);
    CHECK(server::redis::entry_id(id) == "1704110400123-456");
    auto stamp = server::redis::message_stamp("1704110400123-456");
    REQUIRE(stamp);
    CHECK(stamp->first == id);
    CHECK(stamp->second == "2024-01-01T12:00:00.123456Z");
    CHECK(server::redis::message_stamp("1704110400123-999")->first < wire::format_id(micros + 544));
    CHECK(server::redis::entry_id(wire::format_id(0)) == "0-0");
  }

  SECTION("neighbouring entry ids, for exclusive ranges") {
    CHECK(server::redis::next_entry("1704110400123-456") == "1704110400123-457");
    CHECK(server::redis::next_entry("5-18446744073709551615") == "6-0");
    CHECK(server::redis::previous_entry("1704110400123-456") == "1704110400123-455");
    CHECK(server::redis::previous_entry("6-0") == "5-18446744073709551615");
    CHECK_FALSE(server::redis::previous_entry("0-0"));
    CHECK_FALSE(server::redis::next_entry("18446744073709551615-18446744073709551615"));
    CHECK_FALSE(server::redis::next_entry("x"));
  }

  SECTION("ids livechat did not write are refused") {
    CHECK_FALSE(server::redis::entry_id("no-such-id"));
    CHECK_FALSE(server::redis::message_stamp("1704110400123-1000"));
    CHECK_FALSE(server::redis::message_stamp("1704110400123"));
    CHECK_FALSE(server::redis::message_stamp("x-1"));
    CHECK_FALSE(server::redis::message_stamp("-1"));
  }

  SECTION("entries are read into messages; foreign ones are skipped") {
    Value reply{Value::Type::array, {}, 0, {}};
    reply.items.push_back(
        entry("1704110400123-456", {"user", "ann", "room", "ops", "content", "hi"}));
    reply.items.push_back(entry("1704110400123-4567", {"room", "ops", "content", "x"}));
    reply.items.push_back(entry("1704110400124-0", {"content", "no room"}));
    reply.items.push_back(
        entry("1704110400125-1", {"room", "general", "content", "a", "extra", "1"}));
    auto messages = server::redis::read_entries(reply);
    REQUIRE(messages.size() == 2);
    CHECK(messages[0] == wire::Message{"20240101120000.123456", "hi", "ann", "ops",
                                       "2024-01-01T12:00:00.123456Z"});
    CHECK(messages[1].id == "20240101120000.125001");
    CHECK(messages[1].content == "a");
  }
  SECTION("change entries are read as edits, deletes and reactions; unknown types are skipped") {
    Value reply{Value::Type::array, {}, 0, {}};
    const std::string target = "20240101120000.123456";
    reply.items.push_back(entry("1704110400200-0", {"type", "edit", "user", "ann", "room", "ops",
                                                    "message_id", target, "content", "fixed"}));
    reply.items.push_back(entry(
        "1704110400201-0", {"type", "delete", "user", "ann", "room", "ops", "message_id", target}));
    reply.items.push_back(
        entry("1704110400202-0", {"type", "reaction", "user", "bob", "room", "ops", "message_id",
                                  target, "emoji", "ok", "action", "remove"}));
    reply.items.push_back(entry(
        "1704110400203-0", {"type", "poll", "user", "bob", "room", "ops", "message_id", target}));
    reply.items.push_back(entry("1704110400204-0", {"type", "edit", "user", "bob", "room", "ops"}));
    reply.items.push_back(entry(
        "1704110400205-0", {"type", "message", "user", "cat", "room", "ops", "content", "typed"}));
    auto events = server::redis::read_entries(reply);
    REQUIRE(events.size() == 4);
    CHECK(events[0].kind == wire::EventKind::edit);
    CHECK(events[0].message_id == target);
    CHECK(events[0].content == "fixed");
    CHECK(events[1].kind == wire::EventKind::deletion);
    CHECK(events[1].user == "ann");
    CHECK(events[2].kind == wire::EventKind::reaction);
    CHECK(events[2].emoji == "ok");
    CHECK(events[2].removed);
    CHECK(events[3].kind == wire::EventKind::message);
    CHECK(events[3].content == "typed");
  }
}
