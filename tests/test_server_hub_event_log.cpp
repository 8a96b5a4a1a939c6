#include <catch2/catch.hpp>

#include "server/hub/event_log.hpp"

using namespace livechat;

namespace {

wire::Message message(const std::string& id, std::size_t size = 5) {
  return {id, std::string(size, 'x'), "tester", "general", "2024-01-01T12:00:00.000000Z"};
}

}  // namespace

TEST_CASE("server::hub::EventLog") {
  SECTION("appends in order and numbers events from one") {
    server::hub::EventLog log;
    CHECK(log.head() == 1);
    CHECK(log.append({message("a"), message("b")}) == 2);
    CHECK(log.head() == 3);
    CHECK(log.tail() == 1);
    auto entries = log.range(1, 3);
    REQUIRE(entries.size() == 2);
    CHECK(entries[0].id == "a");
    CHECK(entries[1].seq == 2);
    CHECK(entries[1].frame->find("id: b\nevent: message\ndata: {") == 0);
  }

  SECTION("ignores ids it holds") {
    server::hub::EventLog log;
    log.append({message("a")});
    CHECK(log.append({message("a"), message("b"), message("b")}) == 1);
    CHECK(log.size() == 2);
  }

  SECTION("keeps at most max_events") {
    server::hub::EventLog log({3, 1 << 20});
    for (int i = 0; i < 10; ++i) {
      log.append({message(std::to_string(i))});
    }
    CHECK(log.size() == 3);
    CHECK(log.tail() == 8);
    CHECK(log.range(0, 100).front().id == "7");
    // A trimmed id may come back as new.
    CHECK(log.append({message("0")}) == 1);
  }

  SECTION("keeps at most max_bytes") {
    server::hub::EventLog log({1000, 2000});
    for (int i = 0; i < 10; ++i) {
      log.append({message(std::to_string(i), 500)});
    }
    CHECK(log.bytes() <= 2000);
    CHECK(log.size() < 10);
    CHECK(log.size() >= 1);
  }
}

TEST_CASE("server::hub::EventLog following an ordered stream") {
  const std::string origin = "20240101120000.000010";
  auto id = [](int n) { return "20240101120000.0000" + std::to_string(n); };  // n: 10..99

  SECTION("an id held resumes after it; one between held ids, after it too") {
    server::hub::EventLog log;
    log.follow_from(origin);
    log.append({message(id(20)), message(id(30)), message(id(40))});
    auto held = log.locate(id(20));
    CHECK(held.kind == server::hub::ResumePoint::Kind::found);
    CHECK(held.from == 2);
    auto between = log.locate(id(25));
    CHECK(between.kind == server::hub::ResumePoint::Kind::found);
    CHECK(between.from == 2);
    auto newest = log.locate(id(40));
    CHECK(newest.from == log.head());
    // Not read yet (this node lags): from now on; a client drops what it already has.
    CHECK(log.locate(id(50)).kind == server::hub::ResumePoint::Kind::found);
    CHECK(log.locate(id(50)).from == log.head());
  }

  SECTION("an id from before the log is earlier, with the gap's end") {
    server::hub::EventLog log;
    log.follow_from(origin);
    auto empty = log.locate(id(10));
    CHECK(empty.kind == server::hub::ResumePoint::Kind::earlier);
    CHECK(empty.upto == origin);
    CHECK(empty.from == log.head());
    log.append({message(id(20))});
    auto before = log.locate("20231231000000.000000");
    CHECK(before.kind == server::hub::ResumePoint::Kind::earlier);
    CHECK(before.upto == origin);
    CHECK(before.from == 1);
  }

  SECTION("trimming moves the gap's end to the newest event let go") {
    server::hub::EventLog log({2, 1 << 20});
    log.follow_from(origin);
    log.append({message(id(20)), message(id(30)), message(id(40)), message(id(50))});
    auto point = log.locate(id(20));
    CHECK(point.kind == server::hub::ResumePoint::Kind::earlier);
    CHECK(point.upto == id(30));
    CHECK(point.from == log.tail());
  }

  SECTION("what is not a message id is unknown") {
    server::hub::EventLog log;
    log.follow_from(origin);
    log.append({message(id(20))});
    CHECK(log.locate("no-such-id").kind == server::hub::ResumePoint::Kind::unknown);
    CHECK(log.locate("0").kind == server::hub::ResumePoint::Kind::unknown);
  }
}
