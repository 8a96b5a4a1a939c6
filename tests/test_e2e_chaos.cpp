// End to end under failure: `livechat listen` keeps every message, once and in order, while its
// stream is cut, its notification service restarts or refuses connections for a while; and
// `livechat send` stores each message once while the answers to its posts are lost.
#include <httplib.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "tests/support/helpers.hpp"
#include "tests/support/in_process.hpp"
#include "tests/support/process.hpp"
#include "tests/support/tcp_proxy.hpp"

using namespace livechat::test;
using json = nlohmann::json;

namespace {

// Fast reconnects: the services tell clients to retry after this many ms.
const std::string k_retry_ms = "100";

// Posts one message to the message service and returns its id.
// Posts `count` messages, one at a time, and returns their ids in the order they were accepted.
std::vector<std::string> post_messages(int port, int count, const std::string& prefix) {
  std::vector<std::string> ids;
  for (int i = 0; i < count; ++i) {
    ids.push_back(post_message(port, prefix + " " + std::to_string(i)));
  }
  return ids;
}

// Returns a service's /health body, for the report of a failed test.
std::string health_of(int port) {
  httplib::Client client("127.0.0.1", port);
  auto result = client.Get("/health");
  return result ? result->body : "(no answer)";
}

// Returns a seed from LIVECHAT_CHAOS_SEED when set (to replay a run), else a fresh one.
std::uint32_t chaos_seed() {
  if (const char* given = std::getenv("LIVECHAT_CHAOS_SEED")) {
    return static_cast<std::uint32_t>(std::stoul(given));
  }
  return std::random_device{}();
}

// Starts `livechat listen --json` for `count` messages.
std::unique_ptr<Child> start_listen(const std::string& notify_url, const std::string& message_url,
                                    std::size_t count) {
  return std::make_unique<Child>(
      std::vector<std::string>{LIVECHAT_BINARY, "listen", "--json", "--url", notify_url,
                               "--message-url", message_url, "--count", std::to_string(count)});
}

// Waits until listen says it is connected, or fails the test.
void require_connected(Child& listener) {
  bool connected = listener.wait_until(
      [](const std::string&, const std::string& err) {
        return err.find("\nconnected") != std::string::npos || err.rfind("connected", 0) == 0;
      },
      10s);
  INFO("listen stderr:\n" << listener.err());
  REQUIRE(connected);
}

// Lists the ids in `a` that are not in `b`.
std::string missing_from(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  std::set<std::string> in_b(b.begin(), b.end());
  std::ostringstream out;
  for (const auto& id : a) {
    if (in_b.count(id) == 0) {
      out << id << " ";
    }
  }
  return out.str();
}

// Checks that listen printed exactly the messages `posted`: each once, in order.
void check_exactly_once(const std::vector<std::string>& lines,
                        const std::vector<std::string>& posted) {
  std::vector<std::string> printed;
  std::set<std::string> seen;
  std::ostringstream doubled;
  std::ostringstream out_of_order;
  for (const auto& line : lines) {
    auto message = json::parse(line, nullptr, false);
    INFO("line: " << line);
    REQUIRE(!message.is_discarded());
    REQUIRE(message.is_object());
    CHECK(message.value("type", "") == "message");
    REQUIRE(message.contains("id"));
    std::string id = message["id"];
    if (!seen.insert(id).second) {
      doubled << id << " ";
    }
    if (!printed.empty() && !(printed.back() < id)) {
      out_of_order << printed.back() << " then " << id << "; ";
    }
    printed.push_back(id);
  }
  INFO("lost: " << missing_from(posted, printed));
  INFO("printed twice: " << doubled.str());
  INFO("out of order: " << out_of_order.str());
  INFO("never posted: " << missing_from(printed, posted));
  CHECK(printed.size() == posted.size());
  CHECK(doubled.str().empty());
  CHECK(out_of_order.str().empty());
  CHECK(printed == posted);
}

}  // namespace

TEST_CASE("listen through a proxy that cuts the stream at random moments", "[e2e]") {
  const int total = 300;
  const std::uint32_t seed = chaos_seed();
  INFO("seed " << seed << " (LIVECHAT_CHAOS_SEED replays it)");
  LivechatServer server({"serve", "--port", "0", "--notify-port", "0", "--retry", k_retry_ms});
  TcpProxy proxy(server.port("notification"));
  auto listener = start_listen("http://127.0.0.1:" + std::to_string(proxy.port()),
                               server.url("message"), total);
  require_connected(*listener);

  // Cut by count, not by clock: before a post chosen at random in every run of up to 40, once
  // listen is back and has printed since the last cut (so that its backoff started over). The
  // cut lands wherever the stream is then: mid-replay, mid-event, or idle.
  std::mt19937 random(seed);
  std::uniform_int_distribution<int> gap(1, 40);
  int next_cut = gap(random);
  std::size_t cuts = 0;
  std::size_t accepted_at_cut = 0;
  std::size_t printed_at_cut = 0;
  std::vector<std::string> posted;
  for (int i = 0; i < total; ++i) {
    if (i == next_cut) {
      REQUIRE(eventually(
          [&] {
            return proxy.connections() > accepted_at_cut &&
                   listener->out_lines().size() > printed_at_cut;
          },
          30s));
      accepted_at_cut = proxy.connections();
      printed_at_cut = listener->out_lines().size();
      REQUIRE(proxy.cut_all() >= 1);
      ++cuts;
      next_cut += gap(random);
    }
    posted.push_back(post_message(server.port("message"), "chaos " + std::to_string(i)));
  }
  auto code = listener->wait_exit(60s);

  INFO("listen stderr:\n" << listener->err());
  INFO("server stderr:\n" << server.process().err());
  INFO("proxy: " << proxy.connections() << " connections, " << proxy.cuts() << " cuts");
  INFO("message /health: " << health_of(server.port("message")));
  INFO("notification /health: " << health_of(server.port("notification")));
  CHECK(code.value_or(-1) == 0);
  check_exactly_once(listener->out_lines(), posted);
  CHECK(cuts >= 7);  // 300 posts, a cut in every 40 at least
  CHECK(eventually([&] { return proxy.cuts() == cuts; }));
  CHECK(proxy.connections() >= cuts + 1);  // it came back after each
}

TEST_CASE("listen survives a restart of the notification service", "[e2e]") {
  const int batch = 10;
  const int notify_port = free_port();
  const std::vector<std::string> notify_args = {"serve-notify", "--port",
                                                std::to_string(notify_port), "--retry", k_retry_ms};
  auto notify = std::make_unique<LivechatServer>(notify_args);
  LivechatServer message(
      {"serve-message", "--port", "0", "--notify-url", notify->url("notification")});
  const int message_port = message.port("message");
  auto listener = start_listen(notify->url("notification"), message.url("message"), 3 * batch);
  require_connected(*listener);

  auto posted = post_messages(message_port, batch, "before");
  CHECK(listener->wait_for_lines(batch, 10s));

  REQUIRE(notify->stop() == 0);
  notify.reset();
  auto while_down = post_messages(message_port, batch, "while down");
  posted.insert(posted.end(), while_down.begin(), while_down.end());

  notify = std::make_unique<LivechatServer>(notify_args);
  auto after = post_messages(message_port, batch, "after");
  posted.insert(posted.end(), after.begin(), after.end());

  auto code = listener->wait_exit(60s);
  INFO("listen stderr:\n" << listener->err());
  INFO("serve-message stderr:\n" << message.process().err());
  INFO("serve-notify (restarted) stderr:\n" << notify->process().err());
  CHECK(code.value_or(-1) == 0);
  check_exactly_once(listener->out_lines(), posted);
}

TEST_CASE("listen survives a refused connection window", "[e2e]") {
  const int batch = 20;
  LivechatServer server({"serve", "--port", "0", "--notify-port", "0", "--retry", k_retry_ms});
  const int message_port = server.port("message");
  TcpProxy proxy(server.port("notification"));
  auto listener = start_listen("http://127.0.0.1:" + std::to_string(proxy.port()),
                               server.url("message"), 3 * batch);
  require_connected(*listener);

  auto posted = post_messages(message_port, batch, "before");
  CHECK(listener->wait_for_lines(batch, 10s));

  const std::size_t accepted_before = proxy.connections();
  proxy.set_refusing(true);
  proxy.cut_all();
  for (int i = 0; i < batch; ++i) {
    posted.push_back(post_message(message_port, "refused " + std::to_string(i)));
  }
  // The window lasts until listen has been turned away at least once.
  CHECK(eventually([&] { return proxy.connections() > accepted_before; }, 20s));
  proxy.set_refusing(false);
  auto after = post_messages(message_port, batch, "after");
  posted.insert(posted.end(), after.begin(), after.end());

  auto code = listener->wait_exit(60s);
  INFO("listen stderr:\n" << listener->err());
  INFO("server stderr:\n" << server.process().err());
  CHECK(code.value_or(-1) == 0);
  check_exactly_once(listener->out_lines(), posted);
  CHECK(listener->err().find("reconnecting in") != std::string::npos);
}

TEST_CASE("send through a proxy that loses answers after the post was served stores each once",
          "[e2e]") {
  auto server = start_serve({"--db", ":memory:"});
  TcpProxy proxy(server.port("message"));
  proxy.lose_answers(3);  // every third answer is lost with its connection
  constexpr int k_messages = 60;
  std::string lines;
  for (int i = 0; i < k_messages; ++i) {
    lines += "retried " + std::to_string(i) + "\n";
  }
  auto sent = run_in_process(
      {"send", "--url", "http://127.0.0.1:" + std::to_string(proxy.port()), "--user", "ann"}, {},
      lines);
  CHECK(sent.code == 0);
  CHECK(sent.err.empty());
  auto ids = split_lines(sent.out);
  CHECK(ids.size() == k_messages);
  CHECK(std::set<std::string>(ids.begin(), ids.end()).size() == k_messages);
  CHECK(proxy.lost() >= k_messages / 3);  // the retries were needed: their posts were stored

  httplib::Client client("127.0.0.1", server.port("message"));
  auto history = client.Get("/messages?limit=1000");
  REQUIRE(history);
  auto stored = json::parse(history->body);
  std::multiset<std::string> contents;
  for (const auto& m : stored) {
    contents.insert(m["content"].get<std::string>());
  }
  CHECK(stored.size() == k_messages);
  for (int i = 0; i < k_messages; ++i) {
    CHECK(contents.count("retried " + std::to_string(i)) == 1);
  }
}
