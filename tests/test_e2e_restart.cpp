// End to end: a notification service that crashed fills its event log before it serves again,
// so the streams that come back resume with a replay instead of a reset.
#include <httplib.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/helpers.hpp"
#include "tests/support/in_process.hpp"
#include "tests/support/process.hpp"
#include "tests/support/sse_client.hpp"
#include "wire/token.hpp"

using namespace livechat::test;
using json = nlohmann::json;

namespace {

// Posts `count` messages "<prefix> <i>" with a user token (if any); returns their ids.
std::vector<std::string> post_messages(int port, int count, const std::string& prefix,
                                       const std::string& token = {}) {
  httplib::Client client("127.0.0.1", port);
  if (!token.empty()) {
    client.set_bearer_token_auth(token);
  }
  std::vector<std::string> ids;
  for (int i = 0; i < count; ++i) {
    auto body = json{{"content", prefix + " " + std::to_string(i)}}.dump();
    auto result = client.Post("/messages", body, "application/json");
    REQUIRE(result);
    REQUIRE(result->status == 201);
    ids.push_back(json::parse(result->body)["id"]);
  }
  return ids;
}

std::vector<std::string> ids_of(const std::vector<livechat::wire::sse::Event>& events) {
  std::vector<std::string> ids;
  for (const auto& e : events) {
    ids.push_back(e.id);
  }
  return ids;
}

bool has_reset(const SseClient& stream) {
  for (const auto& e : stream.events()) {
    if (e.type == "reset") {
      return true;
    }
  }
  return false;
}

json health(int port) {
  httplib::Client client("127.0.0.1", port);
  auto result = client.Get("/health");
  return result ? json::parse(result->body) : json{};
}

// Whether the message service has handed everything to a reachable notification service.
bool forwarded_all(int message_port) {
  auto notify = health(message_port)["notify"];
  return notify.is_object() && notify["reachable"] == true && notify["backlog"] == 0;
}

// Streams 5 messages, kills serve-notify with SIGKILL while 5 more are posted, restarts it
// with --message-url, resumes from the last message seen and checks the 5 are replayed, with
// no reset and no repeat once the message service forwards them again. `secure`: both services
// run with an auth secret and a notify token.
void check_crash_and_resume(bool secure) {
  const std::string secret = "restart test secret";
  const std::string notify_token = "restart test notify token";
  const std::string user_token =
      secure ? *livechat::wire::mint_token(secret, "ann", std::chrono::hours(1)) : "";
  std::vector<std::string> both;
  if (secure) {
    both = {"--auth-secret", secret, "--notify-token", notify_token};
  }
  TempDir dir;
  const int notify_port = free_port();
  std::vector<std::string> message_args = {"serve-message",
                                           "--port",
                                           "0",
                                           "--db",
                                           dir.file("chat.db"),
                                           "--notify-url",
                                           "http://127.0.0.1:" + std::to_string(notify_port)};
  message_args.insert(message_args.end(), both.begin(), both.end());
  LivechatServer message(message_args);
  const int message_port = message.port("message");
  std::vector<std::string> notify_args = {"serve-notify", "--port", std::to_string(notify_port),
                                          "--message-url", message.url("message")};
  notify_args.insert(notify_args.end(), both.begin(), both.end());
  auto notify = std::make_unique<LivechatServer>(notify_args);
  const std::string target = secure ? "/events?token=" + user_token : "/events";

  SseClient first(notify_port, target);
  REQUIRE(first.wait_connected());
  auto before = post_messages(message_port, 5, "before", user_token);
  REQUIRE(first.wait_messages(5));
  REQUIRE(ids_of(first.messages()) == before);

  notify->crash();
  REQUIRE(first.wait_ended());
  auto while_down = post_messages(message_port, 5, "while down", user_token);

  notify = std::make_unique<LivechatServer>(notify_args);
  INFO("serve-notify (restarted) stderr:\n" << notify->process().err());
  INFO("serve-message stderr:\n" << message.process().err());
  CHECK(notify->process().err().find("event log filled with 10 messages") != std::string::npos);
  SseClient resumed(notify_port, target, {{"Last-Event-ID", before.back()}});
  REQUIRE(resumed.wait_connected());
  REQUIRE(resumed.wait_messages(5));
  CHECK(ids_of(resumed.messages()) == while_down);
  CHECK_FALSE(has_reset(resumed));

  // The message service forwards what the crashed node never confirmed once more; the log
  // knows those ids, so the stream gets none of them twice.
  REQUIRE(eventually([&] { return forwarded_all(message_port); }));
  auto after = post_messages(message_port, 1, "after", user_token);
  REQUIRE(resumed.wait_messages(6));
  std::vector<std::string> expected = while_down;
  expected.push_back(after.front());
  CHECK(ids_of(resumed.messages()) == expected);
  CHECK_FALSE(has_reset(resumed));
  CHECK(health(notify_port)["resets"] == 0);
}

}  // namespace

TEST_CASE("serve-notify --message-url: a stream resumes across a SIGKILL with a replay", "[e2e]") {
  check_crash_and_resume(false);
}

TEST_CASE("serve-notify --message-url with an auth secret and a notify token: a replay too",
          "[e2e]") {
  check_crash_and_resume(true);
}

TEST_CASE("serve-notify --message-url starts without the message service, and says so", "[e2e]") {
  const std::string nowhere = "http://127.0.0.1:" + std::to_string(free_port());
  const auto started = std::chrono::steady_clock::now();
  LivechatServer notify({"serve-notify", "--port", "0", "--message-url", nowhere});
  const auto took = std::chrono::steady_clock::now() - started;
  const std::string err = notify.process().err();
  INFO("serve-notify stderr:\n" << err);
  CHECK(err.find("starting with an empty event log: cannot reach the message service at " +
                 nowhere) != std::string::npos);
  CHECK(took < std::chrono::seconds(14));  // it gave up after a few seconds, as it says

  // As without the option: a resume from before this start is a reset.
  SseClient resumed(notify.port("notification"), "/events",
                    {{"Last-Event-ID", "20240101120000.000001"}});
  REQUIRE(resumed.wait_connected());
  CHECK(eventually([&] { return has_reset(resumed); }));
}

TEST_CASE("serve-notify --message-url with a message service that wants a token it lacks",
          "[e2e]") {
  TempDir dir;
  LivechatServer message({"serve-message", "--port", "0", "--db", dir.file("chat.db"),
                          "--auth-secret", "the message service's secret"});
  LivechatServer notify({"serve-notify", "--port", "0", "--message-url", message.url("message")});
  const std::string err = notify.process().err();
  INFO("serve-notify stderr:\n" << err);
  CHECK(err.find("starting with an empty event log: the message service at") != std::string::npos);
  CHECK(err.find("answered HTTP 401") != std::string::npos);
  CHECK(err.find("same one") != std::string::npos);
}

TEST_CASE("serve restarted after a SIGKILL replays a resume from its store", "[e2e]") {
  TempDir dir;
  const std::vector<std::string> args = {"serve", "--port",           "0", "--notify-port", "0",
                                         "--db",  dir.file("chat.db")};
  auto server = std::make_unique<LivechatServer>(args);
  auto posted = post_messages(server->port("message"), 5, "before");
  server->crash();

  server = std::make_unique<LivechatServer>(args);
  INFO("serve (restarted) stderr:\n" << server->process().err());
  CHECK(server->process().err().find("event log filled with 5 messages from the store") !=
        std::string::npos);
  SseClient resumed(server->port("notification"), "/events", {{"Last-Event-ID", posted[1]}});
  REQUIRE(resumed.wait_connected());
  REQUIRE(resumed.wait_messages(3));
  CHECK(ids_of(resumed.messages()) == std::vector<std::string>(posted.begin() + 2, posted.end()));
  CHECK_FALSE(has_reset(resumed));
}

TEST_CASE("bench across a SIGKILL of serve-notify --message-url: no reset, none lost, all back",
          "[e2e]") {
  const int streams = 20;
  TempDir dir;
  const int notify_port = free_port();
  LivechatServer message({"serve-message", "--port", "0", "--db", dir.file("chat.db"),
                          "--notify-url", "http://127.0.0.1:" + std::to_string(notify_port)});
  const std::vector<std::string> notify_args = {"serve-notify", "--port",
                                                std::to_string(notify_port), "--message-url",
                                                message.url("message")};
  auto notify = std::make_unique<LivechatServer>(notify_args);
  const std::vector<std::string> bench_args = {"bench",
                                               "-n",
                                               std::to_string(streams),
                                               "-m",
                                               "80",
                                               "--rate",
                                               "20",
                                               "--json",
                                               "--message-url",
                                               message.url("message"),
                                               "--notify-url",
                                               notify->url("notification")};
  Finished run;
  std::thread bench([&] { run = run_in_process(bench_args); });
  // Cut once the streams have had a few messages, long before the last one is published.
  bool delivering =
      eventually([&] { return health(notify_port).value("deliveries", 0) >= 5 * streams; }, 20s);
  if (delivering) {
    notify->crash();
    notify = std::make_unique<LivechatServer>(notify_args);
  }
  bench.join();
  REQUIRE(delivering);
  INFO("bench stderr: " << run.err);
  INFO("serve-notify (restarted) stderr:\n" << notify->process().err());
  REQUIRE(run.code == 0);
  auto report = json::parse(run.out);
  CHECK(report["lost"] == 0);
  CHECK(report["duplicated"] == 0);
  CHECK(report["resets"] == 0);
  CHECK(report["closed"] == streams);
  CHECK(report["reconnects"] == streams);
  CHECK(report["open_at_end"] == streams);
  CHECK(report["all_back_seconds"].get<double>() > 0);
  CHECK(report["longest_away_seconds"].get<double>() <= report["all_back_seconds"].get<double>());
}
