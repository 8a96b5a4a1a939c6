// End to end: what keeps livechat safe to expose (the notify token, limits).
#include <httplib.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/support/helpers.hpp"
#include "tests/support/in_process.hpp"
#include "tests/support/process.hpp"
#include "tests/support/sse_client.hpp"
#include "wire/token.hpp"

using namespace livechat::test;
using json = nlohmann::json;

namespace {

const std::string k_notification =
    R"({"id":"20240101120000.000001","content":"hi","user":"ann","room":"general"})";

httplib::Result post_notify(int port, const std::string& authorization = "") {
  httplib::Client client("127.0.0.1", port);
  httplib::Headers headers;
  if (!authorization.empty()) {
    headers.emplace("Authorization", authorization);
  }
  return client.Post("/notify", headers, k_notification, "application/json");
}

}  // namespace

TEST_CASE("the notify token", "[e2e]") {
  SECTION("POST /notify needs the token: missing or wrong gets a JSON 401, right gets through") {
    LivechatServer notify({"serve-notify", "--port", "0", "--notify-token", "s3cret"});
    int port = notify.port("notification");
    SseClient listener(port, "/events");
    REQUIRE(listener.wait_connected());
    for (const std::string& bad :
         {std::string(), std::string("Bearer wrong"), std::string("Bearer s3cre"),
          std::string("Basic s3cret"), std::string("Bearer s3cret2")}) {
      INFO("Authorization: " << bad);
      auto refused = post_notify(port, bad);
      REQUIRE(refused);
      CHECK(refused->status == 401);
      CHECK(json::parse(refused->body)["code"] == "unauthorized");
      CHECK(refused->get_header_value("WWW-Authenticate") == "Bearer");
    }
    auto accepted = post_notify(port, "Bearer s3cret");
    REQUIRE(accepted);
    CHECK(accepted->status == 200);
    REQUIRE(listener.wait_messages(1));
    CHECK(listener.messages().size() == 1);  // none of the refused ones got through
  }

  SECTION("the message service sends it, through the environment too") {
    LivechatServer notify({"serve-notify", "--port", "0"}, {{"LIVECHAT_NOTIFY_TOKEN", "t0ken"}});
    LivechatServer message({"serve-message", "--port", "0", "--notify-url",
                            notify.url("notification"), "--notify-token", "t0ken"});
    SseClient listener(notify.port("notification"), "/events");
    REQUIRE(listener.wait_connected());
    auto id = post_message(message.port("message"), "with the token");
    REQUIRE(listener.wait_messages(1));
    CHECK(listener.messages()[0].id == id);
  }

  SECTION("a message service with the wrong token keeps its messages and says why") {
    LivechatServer notify({"serve-notify", "--port", "0", "--notify-token", "right"});
    LivechatServer message({"serve-message", "--port", "0", "--notify-url",
                            notify.url("notification"), "--notify-token", "wrong"});
    post_message(message.port("message"), "kept");
    httplib::Client client("127.0.0.1", message.port("message"));
    REQUIRE(eventually([&] {
      auto health = json::parse(client.Get("/health")->body);
      return health["notify"]["reachable"] == false && health["notify"]["backlog"] == 1;
    }));
    CHECK(message.process().err().find("wrong notify token") != std::string::npos);
  }

  SECTION("serve-notify on a public address without a token warns at start-up") {
    Child open({LIVECHAT_BINARY, "serve-notify", "--port", "0", "--host", "0.0.0.0"},
               {{"LIVECHAT_DB", ":memory:"}});
    CHECK(open.wait_until(
        [](const std::string&, const std::string& err) {
          return err.find("listening") != std::string::npos &&
                 err.find("set --notify-token") != std::string::npos;
        },
        10s));
    open.signal(SIGTERM);
    CHECK(open.wait_exit(10s) == 0);
    LivechatServer loopback({"serve-notify", "--port", "0"});
    CHECK(loopback.process().err().find("--notify-token") == std::string::npos);
  }
}

namespace {

httplib::Result post_as(int port, const std::string& forwarded_for = "") {
  httplib::Client client("127.0.0.1", port);
  httplib::Headers headers;
  if (!forwarded_for.empty()) {
    headers.emplace("X-Forwarded-For", forwarded_for);
  }
  return client.Post("/messages", headers, R"({"content":"hi"})", "application/json");
}

}  // namespace

TEST_CASE("per-client limits", "[e2e]") {
  SECTION(
      "posting faster than --rate-limit gets a 429 with Retry-After, until the bucket refills") {
    LivechatServer server(
        {"serve", "--port", "0", "--notify-port", "0", "--rate-limit", "4", "--rate-burst", "3"});
    int port = server.port("message");
    for (int i = 0; i < 3; ++i) {
      auto burst = post_as(port);
      REQUIRE(burst);
      CHECK(burst->status == 201);
    }
    auto limited = post_as(port);
    REQUIRE(limited);
    CHECK(limited->status == 429);
    CHECK(json::parse(limited->body)["code"] == "rate_limited");
    CHECK(limited->get_header_value("Retry-After") == "1");
    // Refused posts take nothing from the bucket: one gets through once a token is back.
    CHECK(eventually([&] { return post_as(port)->status == 201; }));
    httplib::Client client("127.0.0.1", port);
    CHECK(json::parse(client.Get("/health")->body)["rejected"].get<int>() >= 1);
  }

  SECTION("--trust-proxy counts the address the proxy saw, not the proxy's") {
    LivechatServer server({"serve", "--port", "0", "--notify-port", "0", "--rate-limit", "1",
                           "--rate-burst", "1", "--trust-proxy"});
    int port = server.port("message");
    CHECK(post_as(port, "203.0.113.7")->status == 201);
    CHECK(post_as(port, "203.0.113.7")->status == 429);
    CHECK(post_as(port, "198.51.100.1, 203.0.113.8")->status == 201);
    CHECK(post_as(port, "203.0.113.9")->status == 201);
    // Without it, everyone behind one proxy is one client.
    LivechatServer direct(
        {"serve", "--port", "0", "--notify-port", "0", "--rate-limit", "1", "--rate-burst", "1"});
    CHECK(post_as(direct.port("message"), "203.0.113.7")->status == 201);
    CHECK(post_as(direct.port("message"), "203.0.113.8")->status == 429);
  }

  SECTION("streams beyond --max-streams-per-client get a JSON 503; a closed one frees its place") {
    LivechatServer notify({"serve-notify", "--port", "0", "--max-streams-per-client", "2"});
    int port = notify.port("notification");
    SseClient first(port, "/events");
    SseClient second(port, "/events");
    REQUIRE(first.wait_connected());
    REQUIRE(second.wait_connected());
    SseClient third(port, "/events");
    REQUIRE(third.wait_ended());
    CHECK(third.status() == 503);
    CHECK(json::parse(third.raw())["code"] == "too_many_clients");
    CHECK(third.header("Retry-After") == "5");
    first.close();
    CHECK(eventually([&] {
      SseClient again(port, "/events");
      return again.wait_connected(2s);
    }));
  }
}

TEST_CASE("user tokens", "[e2e]") {
  const std::string secret = "correct horse battery staple";
  LivechatServer server({"serve", "--port", "0", "--notify-port", "0", "--auth-secret", secret});
  int message = server.port("message");
  int notify = server.port("notification");
  auto minted = run_in_process({"token", "--user", "alice", "--ttl", "1h"},
                               {{"LIVECHAT_AUTH_SECRET", secret}});
  REQUIRE(minted.code == 0);
  const std::string alice = split_lines(minted.out).at(0);
  httplib::Client client("127.0.0.1", message);
  auto post_with = [&](const std::string& token, const std::string& body) {
    httplib::Headers headers;
    if (!token.empty()) {
      headers.emplace("Authorization", "Bearer " + token);
    }
    auto result = client.Post("/messages", headers, body, "application/json");
    REQUIRE(result);
    return *result;
  };
  auto code_of = [](const httplib::Response& res) {
    return json::parse(res.body)["code"].get<std::string>();
  };

  SECTION("missing, forged and expired tokens get a JSON 401") {
    auto forged = *livechat::wire::mint_token("another secret", "alice", std::chrono::hours(1));
    auto expired = *livechat::wire::mint_token(secret, "alice", std::chrono::hours(1),
                                               std::chrono::system_clock::now() - 2h);
    for (const auto& token : {std::string(), forged, expired, std::string("junk")}) {
      auto refused = post_with(token, R"({"content":"hi"})");
      CHECK(refused.status == 401);
      CHECK(code_of(refused) == "unauthorized");
      CHECK(refused.get_header_value("WWW-Authenticate") == "Bearer");
    }
    CHECK(json::parse(post_with(expired, R"({"content":"hi"})").body)["error"]
              .get<std::string>()
              .find("expired") != std::string::npos);
    CHECK(client.Get("/messages")->status == 401);
    SseClient no_token(notify, "/events");
    REQUIRE(no_token.wait_ended());
    CHECK(no_token.status() == 401);
    SseClient bad_token(notify, "/events?token=" + forged);
    REQUIRE(bad_token.wait_ended());
    CHECK(bad_token.status() == 401);
    CHECK(json::parse(client.Get("/health")->body)["auth"] == true);
  }

  SECTION("a valid token posts as its user, and nobody else") {
    SseClient by_query(notify, "/events?token=" + alice);
    SseClient by_header(notify, "/events", {{"Authorization", "Bearer " + alice}});
    REQUIRE(by_query.wait_connected());
    REQUIRE(by_header.wait_connected());
    auto own = post_with(alice, R"({"content":"from alice"})");
    REQUIRE(own.status == 201);
    CHECK(json::parse(own.body)["user"] == "alice");
    CHECK(post_with(alice, R"({"content":"me","user":"alice"})").status == 201);
    auto impostor = post_with(alice, R"({"content":"from bob?","user":"bob"})");
    CHECK(impostor.status == 403);
    CHECK(code_of(impostor) == "forbidden");
    REQUIRE(by_query.wait_messages(2));
    REQUIRE(by_header.wait_messages(2));
    for (const auto& event : by_query.messages()) {
      CHECK(json::parse(event.data)["user"] == "alice");
    }
    httplib::Headers headers = {{"Authorization", "Bearer " + alice}};
    auto history = client.Get("/messages", headers);
    REQUIRE(history);
    CHECK(history->status == 200);
    CHECK(json::parse(history->body).size() == 2);
  }

  SECTION("a token over 4096 bytes is token_too_long on both services, header and ?token=") {
    const auto exp = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count() +
                     3600;
    auto long_token = hs256_token(secret, R"({"sub":"alice","exp":)" + std::to_string(exp) +
                                              R"(,"pad":")" + std::string(4500, 'x') + R"("})");
    REQUIRE(long_token.size() > 4096);
    auto refused = post_with(long_token, R"({"content":"hi"})");
    CHECK(refused.status == 401);
    CHECK(code_of(refused) == "token_too_long");
    CHECK(refused.get_header_value("WWW-Authenticate") == "Bearer");
    auto by_query = client.Get("/messages?token=" + long_token);
    REQUIRE(by_query);
    CHECK(by_query->status == 401);
    CHECK(code_of(*by_query) == "token_too_long");
    SseClient stream_header(notify, "/events", {{"Authorization", "Bearer " + long_token}});
    SseClient stream_query(notify, "/events?token=" + long_token);
    for (auto* stream : {&stream_header, &stream_query}) {
      REQUIRE(stream->wait_ended());
      CHECK(stream->status() == 401);
      CHECK(json::parse(stream->raw())["code"] == "token_too_long");
    }
  }

  SECTION("a token not valid until later (nbf) is refused; one valid since earlier posts") {
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    auto with_nbf = [&](long long nbf) {
      return hs256_token(secret, R"({"sub":"alice","exp":)" + std::to_string(now + 3600) +
                                     R"(,"nbf":)" + std::to_string(nbf) + "}");
    };
    auto early = post_with(with_nbf(now + 600), R"({"content":"too early"})");
    CHECK(early.status == 401);
    CHECK(code_of(early) == "unauthorized");
    CHECK(json::parse(early.body)["error"].get<std::string>().find("nbf") != std::string::npos);
    SseClient stream(notify, "/events?token=" + with_nbf(now + 600));
    REQUIRE(stream.wait_ended());
    CHECK(stream.status() == 401);
    auto valid = post_with(with_nbf(now - 10), R"({"content":"in time"})");
    CHECK(valid.status == 201);
    CHECK(json::parse(valid.body)["user"] == "alice");
  }

  SECTION("send and listen take --token (or LIVECHAT_TOKEN)") {
    Child listen({LIVECHAT_BINARY, "listen", "--url", server.url("notification"), "--message-url",
                  server.url("message"), "--json", "--count", "1"},
                 {{"LIVECHAT_TOKEN", alice}});
    REQUIRE(listen.wait_for_err("connected"));
    httplib::Client notify_client("127.0.0.1", notify);
    REQUIRE(eventually([&] {
      auto health = notify_client.Get("/health");
      return health && json::parse(health->body)["clients"] == 1;
    }));
    auto sent = run_in_process({"send", "--url", server.url("message"), "--token", alice, "hello"});
    REQUIRE(sent.code == 0);
    CHECK(listen.wait_exit(10s) == 0);
    CHECK(json::parse(listen.out_lines().at(0))["user"] == "alice");
    auto refused = run_in_process({"send", "--url", server.url("message"), "no token"});
    CHECK(refused.code == 1);
    CHECK(refused.err.find("token") != std::string::npos);
    auto unheard = run_livechat({"listen", "--url", server.url("notification"), "--count", "1"});
    CHECK(unheard.code != 0);
    CHECK(split_lines(unheard.err).back().find("401") != std::string::npos);
  }

  SECTION("livechat token: a lifetime it cannot read, or no secret, is a one-line error") {
    auto bad_ttl = run_in_process({"token", "--user", "alice", "--ttl", "1w", "--secret", "s"});
    CHECK(bad_ttl.code != 0);
    CHECK(bad_ttl.err.find("--ttl") != std::string::npos);
    auto no_secret = run_in_process({"token", "--user", "alice"});
    CHECK(no_secret.code != 0);
    CHECK(split_lines(no_secret.err).size() == 1);
  }
}
