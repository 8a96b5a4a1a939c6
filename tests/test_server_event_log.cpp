#include <catch2/catch.hpp>

#include "server/event_log.hpp"

using namespace livechat;

namespace {

wire::Message message(const std::string& id, std::size_t size = 5) {
  return {id, std::string(size, 'x'), "tester", "general", "2024-01-01T12:00:00.000000Z"};
}

}  // namespace

TEST_CASE("server::EventLog") {
  SECTION("appends in order and numbers events from one") {
    server::EventLog log;
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
    server::EventLog log;
    log.append({message("a")});
    CHECK(log.append({message("a"), message("b"), message("b")}) == 1);
    CHECK(log.size() == 2);
  }

  SECTION("keeps at most max_events") {
    server::EventLog log({3, 1 << 20});
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
    server::EventLog log({1000, 2000});
    for (int i = 0; i < 10; ++i) {
      log.append({message(std::to_string(i), 500)});
    }
    CHECK(log.bytes() <= 2000);
    CHECK(log.size() < 10);
    CHECK(log.size() >= 1);
  }
}
