// End to end on Redis: edits, deletes, reactions and idempotency keys across two message nodes
// and two notification nodes sharing one stream on a real redis-server.
#include <httplib.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/support/process.hpp"
#include "tests/support/redis_server.hpp"
#include "tests/support/sse_client.hpp"

using namespace livechat::test;
using json = nlohmann::json;

namespace {

LivechatServer message_node(const RedisServer& redis) {
  return LivechatServer({"serve-message", "--port", "0", "--redis", redis.url()});
}

LivechatServer notify_node(const RedisServer& redis) {
  return LivechatServer({"serve-notify", "--port", "0", "--redis", redis.url()});
}

struct Answer {
  int status = 0;
  json body;
};

Answer answer_of(const httplib::Result& result) {
  REQUIRE(result);
  return {result->status, json::parse(result->body)};
}

Answer post(int port, const json& body, const std::string& key) {
  httplib::Client client("127.0.0.1", port);
  return answer_of(
      client.Post("/messages", {{"Idempotency-Key", key}}, body.dump(), "application/json"));
}

Answer edit(int port, const std::string& id, const json& body) {
  httplib::Client client("127.0.0.1", port);
  return answer_of(client.Patch("/messages/" + id, body.dump(), "application/json"));
}

Answer remove(int port, const std::string& path) {
  httplib::Client client("127.0.0.1", port);
  return answer_of(client.Delete(path));
}

// %F0%9F%91%8D is 👍.
Answer react(int port, const std::string& id, const std::string& user) {
  httplib::Client client("127.0.0.1", port);
  return answer_of(client.Put("/messages/" + id + "/reactions/%F0%9F%91%8D?user=" + user, "",
                              "application/json"));
}

// Returns a stream's chat events (no `connected`), as "type message_id user".
std::vector<std::string> chat_events(const SseClient& stream) {
  std::vector<std::string> out;
  for (const auto& e : stream.events()) {
    if (e.type == "connected") {
      continue;
    }
    auto data = json::parse(e.data);
    out.push_back(e.type + " " + data.value("message_id", data.value("id", "")) + " " +
                  data.value("user", ""));
  }
  return out;
}

std::vector<std::string> event_ids(const SseClient& stream) {
  std::vector<std::string> ids;
  for (const auto& e : stream.events()) {
    if (e.type != "connected") {
      ids.push_back(e.id);
    }
  }
  return ids;
}

}  // namespace

TEST_CASE("Redis: changes and idempotency keys hold across two message nodes", "[e2e][redis]") {
  RedisServer redis;
  auto node_a = message_node(redis);
  auto node_b = message_node(redis);
  auto notify_1 = notify_node(redis);
  auto notify_2 = notify_node(redis);
  const int a = node_a.port("message");
  const int b = node_b.port("message");
  SseClient on_1(notify_1.port("notification"), "/events");
  SseClient on_2(notify_2.port("notification"), "/events");
  REQUIRE(on_1.wait_connected());
  REQUIRE(on_2.wait_connected());

  const json first_body = {{"content", "helo"}, {"user", "ann"}};
  auto first = post(a, first_body, "key-1");
  REQUIRE(first.status == 201);
  const std::string id = first.body["id"];
  // The key is in Redis: the other node answers the retry with the first answer.
  auto retry = post(b, first_body, "key-1");
  CHECK(retry.status == 201);
  CHECK(retry.body == first.body);
  auto reused = post(b, {{"content", "other"}, {"user", "ann"}}, "key-1");
  CHECK(reused.status == 422);
  CHECK(reused.body["code"] == "idempotency_key_reused");

  auto edited = edit(a, id, {{"content", "hello"}, {"user", "ann"}});
  REQUIRE(edited.status == 200);
  CHECK(edited.body["content"] == "hello");
  auto by_bob = edit(b, id, {{"content", "bob's now"}, {"user", "bob"}});
  CHECK(by_bob.status == 403);
  CHECK(by_bob.body["code"] == "not_author");
  CHECK(remove(b, "/messages/" + id + "?user=bob").body["code"] == "not_author");

  CHECK(react(b, id, "bob").body["reactions"] == json{{"👍", {"bob"}}});
  CHECK(react(a, id, "bob").body["reactions"] == json{{"👍", {"bob"}}});  // already so
  CHECK(react(a, id, "cat").body["reactions"] == json{{"👍", {"bob", "cat"}}});
  auto unreacted = remove(b, "/messages/" + id + "/reactions/%F0%9F%91%8D?user=bob");
  CHECK(unreacted.status == 200);
  CHECK(unreacted.body["reactions"] == json{{"👍", {"cat"}}});

  auto second = post(b, {{"content", "oops"}, {"user", "ann"}}, "key-2");
  REQUIRE(second.status == 201);
  const std::string second_id = second.body["id"];
  auto deleted = remove(a, "/messages/" + second_id + "?user=ann");
  CHECK(deleted.body == json{{"id", second_id}, {"deleted", true}});
  CHECK(edit(b, second_id, {{"content", "back"}, {"user", "ann"}}).status == 410);

  // Both notification nodes stream every event once, in one order, whichever node stored it.
  const std::vector<std::string> expected = {
      "message " + id + " ann",       "edit " + id + " ann",     "reaction " + id + " bob",
      "reaction " + id + " cat",      "reaction " + id + " bob", "message " + second_id + " ann",
      "delete " + second_id + " ann",
  };
  REQUIRE(eventually([&] {
    return chat_events(on_1).size() >= expected.size() &&
           chat_events(on_2).size() >= expected.size();
  }));
  CHECK(chat_events(on_1) == expected);
  CHECK(chat_events(on_2) == expected);
  auto ids = event_ids(on_1);
  CHECK(ids == event_ids(on_2));
  CHECK(std::adjacent_find(ids.begin(), ids.end(), std::greater_equal<>()) == ids.end());
  auto last_reaction = json::parse(on_2.events()[5].data);
  CHECK(last_reaction["action"] == "remove");
  CHECK(last_reaction["emoji"] == "👍");

  // History on either node: the message in its current state, the deleted one left out.
  for (int port : {a, b}) {
    httplib::Client client("127.0.0.1", port);
    auto result = client.Get("/messages");
    REQUIRE(result);
    auto history = json::parse(result->body);
    REQUIRE(history.size() == 1);
    CHECK(history[0]["id"] == id);
    CHECK(history[0]["content"] == "hello");
    CHECK(history[0]["edited"] == edited.body["edited"]);
    CHECK(history[0]["reactions"] == json{{"👍", {"cat"}}});
  }
  // A retry after the edit still answers the message as first stored.
  CHECK(post(b, first_body, "key-1").body == first.body);
}
