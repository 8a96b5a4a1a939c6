#include "server/service/log_fill.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "server/hub/hub.hpp"
#include "server/store/sqlite_store.hpp"
#include "tests/support/helpers.hpp"
#include "tests/support/process.hpp"
#include "tests/support/store_calls.hpp"

using namespace livechat;
using livechat::test::TempDir;

namespace {

// Returns the ids the hub's log holds, oldest first.
std::vector<std::string> log_ids(const server::hub::Hub& hub) {
  std::vector<std::string> ids;
  for (const auto& entry : hub.log().range(hub.log().tail(), hub.log().head())) {
    ids.push_back(entry.id);
  }
  return ids;
}

}  // namespace

TEST_CASE("server::service::fill_from_history") {
  TempDir dir;
  test::LivechatServer message(
      {"serve", "--port", "0", "--notify-port", "0", "--db", dir.file("chat.db")});
  std::vector<std::string> posted;
  for (int i = 0; i < 7; ++i) {
    posted.push_back(test::post_message(message.port("message"), "m" + std::to_string(i)));
  }
  auto endpoint = wire::parse_endpoint(message.url("message"));
  REQUIRE(endpoint);

  SECTION("pages back from the newest and publishes the newest max_messages, oldest first") {
    server::hub::Hub hub;
    server::service::HistoryFillOptions options;
    options.max_messages = 5;
    options.page = 2;  // three requests: 2, 2 and 1
    auto filled = server::service::fill_from_history(hub, *endpoint, options);
    REQUIRE(filled);
    CHECK(filled->messages == 5);
    CHECK(filled->newest == posted.back());
    CHECK(filled->attempts == 1);
    CHECK(log_ids(hub) == std::vector<std::string>(posted.begin() + 2, posted.end()));
  }

  SECTION("a history shorter than the log fills what there is, in order") {
    server::hub::Hub hub;
    server::service::HistoryFillOptions options;
    options.page = 3;
    auto filled = server::service::fill_from_history(hub, *endpoint, options);
    REQUIRE(filled);
    CHECK(filled->messages == 7);
    CHECK(log_ids(hub) == posted);
  }
}

TEST_CASE("server::service::fill_from_store") {
  TempDir dir;
  server::store::SqliteStore store(dir.file("chat.db"));
  std::vector<std::string> stored;
  for (int i = 0; i < 4; ++i) {
    auto m = test::write_one(store, test::numbered_draft(i));
    REQUIRE(m);
    stored.push_back(m->id);
  }
  server::hub::Hub hub;
  auto filled = server::service::fill_from_store(hub, store, 3);
  REQUIRE(filled);
  CHECK(filled->messages == 3);
  CHECK(log_ids(hub) == std::vector<std::string>(stored.begin() + 1, stored.end()));
}
