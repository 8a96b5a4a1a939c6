// End to end: edits, deletes, reactions and idempotent posts, in `serve` and split services,
// on SQLite and on Redis.
#include <httplib.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>

#include "tests/support/hand_token.hpp"
#include "tests/support/helpers.hpp"
#include "tests/support/process.hpp"
#include "tests/support/redis_server.hpp"
#include "tests/support/sse_client.hpp"

using namespace livechat::test;
using json = nlohmann::json;

namespace {

// Both services, as `livechat serve` or as serve-message and serve-notify apart, on SQLite or
// ("... on Redis") on a redis-server of their own.
class Deployment {
 public:
  Deployment(const std::string& mode, const std::string& db, std::vector<std::string> extra = {}) {
    std::vector<std::string> store = {"--db", db};
    std::vector<std::string> notify_store;
    if (mode.find("on Redis") != std::string::npos) {
      m_redis = std::make_unique<RedisServer>();
      store = {"--redis", m_redis->url()};
      notify_store = store;
    }
    if (mode.rfind("serve", 0) == 0) {
      std::vector<std::string> args = {"serve"};
      args.insert(args.end(), store.begin(), store.end());
      args.insert(args.end(), extra.begin(), extra.end());
      m_serve = std::make_unique<LivechatServer>(args);
      m_message_port = m_serve->port("message");
      m_notify_port = m_serve->port("notification");
      return;
    }
    std::vector<std::string> notify = {"serve-notify", "--port", "0"};
    notify.insert(notify.end(), notify_store.begin(), notify_store.end());
    m_notify = std::make_unique<LivechatServer>(notify);
    std::vector<std::string> args = {"serve-message", "--port", "0"};
    args.insert(args.end(), store.begin(), store.end());
    if (!m_redis) {
      args.insert(args.end(), {"--notify-url", m_notify->url("notification")});
    }
    args.insert(args.end(), extra.begin(), extra.end());
    m_message = std::make_unique<LivechatServer>(args);
    m_message_port = m_message->port("message");
    m_notify_port = m_notify->port("notification");
  }
  int message_port() const { return m_message_port; }
  int notify_port() const { return m_notify_port; }

 private:
  std::unique_ptr<RedisServer> m_redis;
  std::unique_ptr<LivechatServer> m_serve;
  std::unique_ptr<LivechatServer> m_notify;
  std::unique_ptr<LivechatServer> m_message;
  int m_message_port = 0;
  int m_notify_port = 0;
};

std::string token_for(const std::string& secret, const std::string& user) {
  const auto exp = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count() +
                   3600;
  return hs256_token(secret, R"({"sub":")" + user + R"(","exp":)" + std::to_string(exp) + "}");
}

struct Answer {
  int status = 0;
  json body;
};

Answer answer_of(const httplib::Result& result) {
  REQUIRE(result);
  return {result->status, json::parse(result->body)};
}

Answer post(httplib::Client& client, const json& body, const std::string& key = "") {
  httplib::Headers headers;
  if (!key.empty()) {
    headers.emplace("Idempotency-Key", key);
  }
  return answer_of(client.Post("/messages", headers, body.dump(), "application/json"));
}

Answer edit(httplib::Client& client, const std::string& id, const json& body) {
  return answer_of(client.Patch("/messages/" + id, body.dump(), "application/json"));
}

Answer remove(httplib::Client& client, const std::string& id, const std::string& user) {
  return answer_of(client.Delete("/messages/" + id + "?user=" + user));
}

// %F0%9F%91%8D is 👍.
Answer react(httplib::Client& client, const std::string& id, const std::string& user,
             const std::string& emoji = "%F0%9F%91%8D", bool add = true) {
  const std::string path = "/messages/" + id + "/reactions/" + emoji + "?user=" + user;
  return answer_of(add ? client.Put(path, "", "application/json") : client.Delete(path));
}

json history(httplib::Client& client) {
  auto result = client.Get("/messages");
  REQUIRE(result);
  REQUIRE(result->status == 200);
  return json::parse(result->body);
}

// Returns the events of a stream after its `connected` (and a reset), as "type id".
std::vector<std::string> chat_events(const SseClient& client) {
  std::vector<std::string> out;
  for (const auto& e : client.events()) {
    if (e.type != "connected") {
      out.push_back(e.type + " " + e.id);
    }
  }
  return out;
}

}  // namespace

TEST_CASE("chat events: edit, delete and react", "[e2e]") {
  const std::string mode =
      GENERATE(as<std::string>{}, "serve", "split", "serve on Redis", "split on Redis");
  TempDir dir;
  Deployment chat(mode, dir.file("chat.db"));
  httplib::Client client("127.0.0.1", chat.message_port());

  SECTION(mode + ": each change is answered, streamed in order and kept in history") {
    SseClient stream(chat.notify_port(), "/events");
    REQUIRE(stream.wait_connected());
    auto first = post(client, {{"content", "helo"}, {"user", "ann"}});
    REQUIRE(first.status == 201);
    const std::string id = first.body["id"];

    auto edited = edit(client, id, {{"content", "hello"}, {"user", "ann"}});
    CHECK(edited.status == 200);
    CHECK(edited.body["id"] == id);
    CHECK(edited.body["content"] == "hello");
    CHECK(edited.body["edited"].is_string());

    auto reacted = react(client, id, "bob");
    CHECK(reacted.status == 200);
    CHECK(reacted.body["reactions"] == json{{"👍", {"bob"}}});
    auto again = react(client, id, "bob");  // twice changes nothing and stores nothing
    CHECK(again.status == 200);
    CHECK(again.body["reactions"] == json{{"👍", {"bob"}}});
    CHECK(react(client, id, "ann").body["reactions"] == json{{"👍", {"bob", "ann"}}});
    CHECK(react(client, id, "bob", "%F0%9F%91%8D", false).body["reactions"] ==
          json{{"👍", {"ann"}}});

    auto kept = history(client);
    REQUIRE(kept.size() == 1);
    CHECK(kept[0]["content"] == "hello");
    CHECK(kept[0]["edited"] == edited.body["edited"]);
    CHECK(kept[0]["reactions"] == json{{"👍", {"ann"}}});

    auto deleted = remove(client, id, "ann");
    CHECK(deleted.status == 200);
    CHECK(deleted.body == json{{"id", id}, {"deleted", true}});
    CHECK(history(client).empty());

    // message, edit, three reactions (the repeated one stored nothing), delete.
    REQUIRE(eventually([&] { return chat_events(stream).size() >= 6; }));
    auto events = stream.events();
    std::vector<std::string> types;
    std::vector<std::string> ids;
    for (const auto& e : events) {
      if (e.type != "connected") {
        types.push_back(e.type);
        ids.push_back(e.id);
      }
    }
    CHECK(types == std::vector<std::string>{"message", "edit", "reaction", "reaction", "reaction",
                                            "delete"});
    CHECK(std::is_sorted(ids.begin(), ids.end()));
    CHECK(std::adjacent_find(ids.begin(), ids.end()) == ids.end());
    auto edit_event = json::parse(events[2].data);
    CHECK(edit_event["type"] == "edit");
    CHECK(edit_event["message_id"] == id);
    CHECK(edit_event["content"] == "hello");
    CHECK(edit_event["user"] == "ann");
    CHECK(edit_event["room"] == "general");
    auto removed = json::parse(events[5].data);
    CHECK(removed["action"] == "remove");
    CHECK(removed["emoji"] == "👍");
    CHECK(removed["user"] == "bob");
    CHECK(json::parse(events[6].data)["type"] == "delete");
  }

  SECTION(mode + ": bad changes get a JSON 4xx and change nothing") {
    const std::string id = post(client, {{"content", "mine"}, {"user", "ann"}}).body["id"];
    auto not_author = edit(client, id, {{"content", "yours"}, {"user", "bob"}});
    CHECK(not_author.status == 403);
    CHECK(not_author.body["code"] == "not_author");
    CHECK(remove(client, id, "bob").body["code"] == "not_author");
    auto unknown = edit(client, "20000101000000.000000", {{"content", "x"}, {"user", "ann"}});
    CHECK(unknown.status == 404);
    CHECK(unknown.body["code"] == "not_found");
    CHECK(react(client, "20000101000000.000000", "ann").status == 404);
    auto blank = edit(client, id, {{"content", "  "}, {"user", "ann"}});
    CHECK(blank.status == 400);
    CHECK(blank.body["code"] == "bad_content");
    CHECK(edit(client, id, {{"user", "ann"}}).body["code"] == "bad_content");
    CHECK(edit(client, id, {{"content", std::string(70 * 1024, 'x')}, {"user", "ann"}}).status ==
          413);
    auto bad_json = answer_of(client.Patch("/messages/" + id, "{nope", "application/json"));
    CHECK(bad_json.status == 400);
    CHECK(bad_json.body["code"] == "bad_json");
    for (const std::string& emoji :
         {std::string(33, 'a'), std::string("a%20b"), std::string("%FF"), std::string("%0A")}) {
      auto bad = react(client, id, "ann", emoji);
      CHECK(bad.status == 400);
      CHECK(bad.body["code"] == "bad_emoji");
    }
    CHECK(answer_of(client.Put("/messages/" + id + "/other/x", "", "application/json")).status ==
          404);
    CHECK(history(client)[0]["content"] == "mine");
    CHECK_FALSE(history(client)[0].contains("reactions"));

    REQUIRE(remove(client, id, "ann").status == 200);
    auto gone = edit(client, id, {{"content", "again"}, {"user", "ann"}});
    CHECK(gone.status == 410);
    CHECK(gone.body["code"] == "gone");
    CHECK(remove(client, id, "ann").status == 410);
    CHECK(react(client, id, "bob").status == 410);
  }

  SECTION(mode + ": a post repeated with its Idempotency-Key is stored once") {
    auto first = post(client, {{"content", "once"}, {"user", "ann"}}, "key-1");
    REQUIRE(first.status == 201);
    auto retry = post(client, {{"content", "once"}, {"user", "ann"}}, "key-1");
    CHECK(retry.status == 201);
    CHECK(retry.body == first.body);
    auto reused = post(client, {{"content", "another"}, {"user", "ann"}}, "key-1");
    CHECK(reused.status == 422);
    CHECK(reused.body["code"] == "idempotency_key_reused");
    // Keys are the caller's own: another user's same key is another post.
    auto other = post(client, {{"content", "once"}, {"user", "bob"}}, "key-1");
    CHECK(other.status == 201);
    CHECK(other.body["id"] != first.body["id"]);
    for (const std::string& key : {std::string(129, 'k'), std::string("cl\xc3\xa9")}) {
      auto bad = post(client, {{"content", "x"}}, key);
      CHECK(bad.status == 400);
      CHECK(bad.body["code"] == "bad_idempotency_key");
    }
    CHECK(post(client, {{"content", "x"}}, std::string(128, 'k')).status == 201);
    CHECK(history(client).size() == 3);
  }

  SECTION(mode + ": a stream away during an edit, a delete and two reactions gets all four") {
    std::string kept;
    std::string gone;
    {
      // Split services forward after the 201: the stream waits until both reached its node.
      SseClient before(chat.notify_port(), "/events");
      REQUIRE(before.wait_connected());
      kept = post(client, {{"content", "kept"}, {"user", "ann"}}).body["id"];
      gone = post(client, {{"content", "gone"}, {"user", "ann"}}).body["id"];
      REQUIRE(before.wait_messages(2));
    }
    const std::string last = gone;
    REQUIRE(edit(client, kept, {{"content", "kept!"}, {"user", "ann"}}).status == 200);
    REQUIRE(remove(client, gone, "ann").status == 200);
    REQUIRE(react(client, kept, "bob").status == 200);
    REQUIRE(react(client, kept, "cat", "%E2%9D%A4").status == 200);
    SseClient after(chat.notify_port(), "/events", {{"Last-Event-ID", last}});
    REQUIRE(eventually([&] { return chat_events(after).size() >= 4; }));
    auto events = chat_events(after);
    REQUIRE(events.size() == 4);
    CHECK(events[0].rfind("edit ", 0) == 0);
    CHECK(events[1].rfind("delete ", 0) == 0);
    CHECK(events[2].rfind("reaction ", 0) == 0);
    CHECK(events[3].rfind("reaction ", 0) == 0);
    CHECK(std::is_sorted(events.begin(), events.end(), [](const auto& a, const auto& b) {
      return a.substr(a.find(' ')) < b.substr(b.find(' '));
    }));
  }
}

TEST_CASE("chat events: a stream whose id is too old gets a reset, and history has the state",
          "[e2e]") {
  TempDir dir;
  auto server = start_serve({"--db", dir.file("chat.db"), "--log-events", "3"});
  httplib::Client client("127.0.0.1", server.port("message"));
  const std::string id = post(client, {{"content", "first"}, {"user", "ann"}}).body["id"];
  REQUIRE(edit(client, id, {{"content", "first, edited"}, {"user", "ann"}}).status == 200);
  REQUIRE(react(client, id, "bob").status == 200);
  REQUIRE(react(client, id, "cat").status == 200);
  SseClient stream(server.port("notification"), "/events", {{"Last-Event-ID", id}});
  REQUIRE(eventually([&] { return stream.events().size() >= 2; }));
  CHECK(stream.events()[1].type == "reset");
  auto state = history(client);
  REQUIRE(state.size() == 1);
  CHECK(state[0]["content"] == "first, edited");
  CHECK(state[0]["reactions"] == json{{"👍", {"bob", "cat"}}});
}

TEST_CASE("chat events: idempotency keys and changes outlive a restart", "[e2e]") {
  TempDir dir;
  const std::string db = dir.file("chat.db");
  json first;
  {
    auto server = start_serve({"--db", db});
    httplib::Client client("127.0.0.1", server.port("message"));
    first = post(client, {{"content", "sent before"}, {"user", "ann"}}, "restart-key").body;
    REQUIRE(edit(client, first["id"], {{"content", "edited before"}, {"user", "ann"}}).status ==
            200);
    REQUIRE(server.stop() == 0);
  }
  auto server = start_serve({"--db", db});
  httplib::Client client("127.0.0.1", server.port("message"));
  auto retry = post(client, {{"content", "sent before"}, {"user", "ann"}}, "restart-key");
  CHECK(retry.status == 201);
  CHECK(retry.body == first);  // the first answer, as it was
  auto state = history(client);
  REQUIRE(state.size() == 1);
  CHECK(state[0]["content"] == "edited before");
  // A stream that resumes from the post after the restart gets the edit from the filled log.
  SseClient stream(server.port("notification"), "/events", {{"Last-Event-ID", first["id"]}});
  REQUIRE(eventually([&] { return chat_events(stream).size() >= 1; }));
  CHECK(chat_events(stream)[0].rfind("edit ", 0) == 0);
}

TEST_CASE("chat events: with --auth-secret the token's user is the caller", "[e2e]") {
  auto server = start_serve({"--db", ":memory:", "--auth-secret", "s3cret"});
  httplib::Client client("127.0.0.1", server.port("message"));
  const httplib::Headers ann = {{"Authorization", "Bearer " + token_for("s3cret", "ann")}};
  const httplib::Headers bob = {{"Authorization", "Bearer " + token_for("s3cret", "bob")}};
  auto posted = client.Post("/messages", ann, R"({"content":"by ann"})", "application/json");
  REQUIRE(posted);
  REQUIRE(posted->status == 201);
  const std::string id = json::parse(posted->body)["id"];
  auto by_bob = client.Patch("/messages/" + id, bob, R"({"content":"by bob"})", "application/json");
  REQUIRE(by_bob);
  CHECK(by_bob->status == 403);
  CHECK(json::parse(by_bob->body)["code"] == "not_author");
  // A body that names another user than the token's is refused, not rewritten.
  auto posing =
      client.Patch("/messages/" + id, bob, R"({"content":"x","user":"ann"})", "application/json");
  REQUIRE(posing);
  CHECK(posing->status == 403);
  CHECK(json::parse(posing->body)["code"] == "forbidden");
  auto no_token = client.Delete("/messages/" + id + "?user=ann");
  REQUIRE(no_token);
  CHECK(no_token->status == 401);
  auto by_ann = client.Patch("/messages/" + id, ann, R"({"content":"edited"})", "application/json");
  REQUIRE(by_ann);
  CHECK(by_ann->status == 200);
  auto reaction = client.Put("/messages/" + id + "/reactions/ok", bob, "", "application/json");
  REQUIRE(reaction);
  CHECK(json::parse(reaction->body)["reactions"] == json{{"ok", {"bob"}}});
}

TEST_CASE("chat events: a restarted serve-notify fills its log with the changes too", "[e2e]") {
  TempDir dir;
  const int notify_port = free_port();
  const std::string notify_url = "http://127.0.0.1:" + std::to_string(notify_port);
  auto notify = std::make_unique<LivechatServer>(
      std::vector<std::string>{"serve-notify", "--port", std::to_string(notify_port)});
  LivechatServer message(
      {"serve-message", "--port", "0", "--db", dir.file("chat.db"), "--notify-url", notify_url});
  httplib::Client client("127.0.0.1", message.port("message"));
  const std::string kept = post(client, {{"content", "kept"}, {"user", "ann"}}).body["id"];
  const std::string gone = post(client, {{"content", "gone"}, {"user", "ann"}}).body["id"];
  REQUIRE(edit(client, kept, {{"content", "kept!"}, {"user", "ann"}}).status == 200);
  REQUIRE(remove(client, gone, "ann").status == 200);
  auto log = client.Get("/messages?changes=1&limit=10");
  REQUIRE(log);
  REQUIRE(log->status == 200);
  CHECK(json::parse(log->body).size() == 4);
  CHECK(client.Get("/messages?changes=1&room=general")->status == 400);

  REQUIRE(notify->stop() == 0);
  notify = std::make_unique<LivechatServer>(
      std::vector<std::string>{"serve-notify", "--port", std::to_string(notify_port),
                               "--message-url", message.url("message")});
  SseClient stream(notify_port, "/events", {{"Last-Event-ID", gone}});
  REQUIRE(eventually([&] { return chat_events(stream).size() >= 2; }));
  auto events = chat_events(stream);
  REQUIRE(events.size() == 2);  // replayed from the filled log, not reset
  CHECK(events[0].rfind("edit ", 0) == 0);
  CHECK(events[1].rfind("delete ", 0) == 0);
}
