// End to end at scale: thousands of streams on one server, and `livechat bench` against it.
#include <httplib.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "client/bench/load.hpp"
#include "client/bench/stream_pool.hpp"
#include "client/publisher.hpp"
#include "tests/support/in_process.hpp"
#include "tests/support/process.hpp"
#include "tests/support/raw_connection.hpp"
#include "wire/message.hpp"

using namespace livechat::test;
using json = nlohmann::json;
namespace client = livechat::client;

namespace {

// Keeps the sequence numbers each stream received, in arrival order.
class Recorder : public client::bench::StreamHandler {
 public:
  explicit Recorder(std::size_t streams) : m_received(streams) {}

  void on_event(std::size_t index, std::size_t, const livechat::wire::sse::Event& event,
                std::chrono::steady_clock::time_point) override {
    auto payload = client::bench::parse_bench_notification(event.data);
    std::lock_guard lock(m_mutex);
    if (event.type == "message" && payload) {
      m_received[index].push_back(payload->seq);
      ++m_total;
    }
  }

  std::size_t total() const {
    std::lock_guard lock(m_mutex);
    return m_total;
  }

  std::vector<std::vector<std::uint64_t>> received() const {
    std::lock_guard lock(m_mutex);
    return m_received;
  }

 private:
  mutable std::mutex m_mutex;
  std::vector<std::vector<std::uint64_t>> m_received;
  std::size_t m_total = 0;
};

livechat::wire::Endpoint endpoint(const std::string& url) {
  auto parsed = livechat::wire::parse_endpoint(url);
  REQUIRE(parsed);
  return *parsed;
}

int health_clients(httplib::Client& health) {
  auto result = health.Get("/health");
  return result ? json::parse(result->body)["clients"].get<int>() : -1;
}

}  // namespace

// Returns how many threads a server process runs.
std::size_t server_threads(LivechatServer& server) { return server.process().threads(); }

TEST_CASE("2,000 concurrent streams, with no thread of their own", "[e2e]") {
  constexpr std::size_t k_streams = 2'000;
  constexpr std::uint64_t k_messages = 20;
  LivechatServer server(
      {"serve", "--port", "0", "--notify-port", "0", "--max-streams-per-client", "0"});
  httplib::Client health("127.0.0.1", server.port("notification"));

  Recorder recorder(k_streams);
  client::bench::StreamPoolConfig config;
  config.endpoints = {endpoint(server.url("notification"))};
  config.target = "/events?room=scale";
  config.streams = k_streams;
  config.loops = 2;
  REQUIRE(health_clients(health) == 0);
  const std::size_t threads = server_threads(server);
  INFO("server threads before the streams: " << threads);
  CHECK(threads <= 16);
  client::bench::StreamPool pool(config, recorder);
  REQUIRE_FALSE(pool.start());
  // While 2,000 streams connect at once, no thread is started for any of them: the event
  // loops read their requests, and the hub's writers own them once their heads are written.
  std::size_t peak = 0;
  REQUIRE(eventually(
      [&] {
        peak = std::max(peak, server_threads(server));
        return pool.pending() == 0;
      },
      30s));
  CHECK(peak <= threads);
  REQUIRE(pool.connected() == k_streams);
  CHECK(pool.failed() == 0);
  CHECK(eventually([&] { return health_clients(health) == static_cast<int>(k_streams); }));
  CHECK(server_threads(server) <= threads);

  client::Publisher publisher(endpoint(server.url("message")));
  for (std::uint64_t seq = 0; seq < k_messages; ++seq) {
    REQUIRE(publisher.send(client::bench::bench_content(seq, 0), "scale", "scale"));
  }
  CHECK(eventually([&] { return recorder.total() >= k_streams * k_messages; }, 20s));
  auto received = recorder.received();
  std::size_t complete = 0;
  for (const auto& stream : received) {
    bool in_order = stream.size() == k_messages;
    for (std::uint64_t seq = 0; in_order && seq < k_messages; ++seq) {
      in_order = stream[seq] == seq;
    }
    complete += in_order ? 1 : 0;
  }
  CHECK(complete == k_streams);
  CHECK(recorder.total() == k_streams * k_messages);

  pool.stop();
  CHECK(pool.connected() == 0);
  CHECK(eventually([&] { return health_clients(health) == 0; }));
  CHECK(server_threads(server) <= threads);
}

TEST_CASE("kept-alive connections wait for their next request without a thread", "[e2e]") {
  constexpr std::size_t k_connections = 300;
  LivechatServer server({"serve-message", "--port", "0", "--db", ":memory:"});
  const int port = server.port("message");
  const std::size_t threads = server_threads(server);
  INFO("server threads before: " << threads);
  const std::string request = "GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n";
  std::vector<std::unique_ptr<RawConnection>> connections;
  for (std::size_t i = 0; i < k_connections; ++i) {
    connections.push_back(std::make_unique<RawConnection>(port));
    REQUIRE(connections.back()->send(request));
  }
  for (auto& connection : connections) {
    connection->read_responses(1);
    REQUIRE(connection->responses().size() == 1);
    CHECK(connection->responses()[0].status == 200);
  }
  // Quiet now: each waits in its event loop's epoll set, with no thread of its own.
  CHECK(server_threads(server) <= threads);
  for (auto& connection : connections) {
    REQUIRE(connection->send(request));  // the same connection, woken by its next request
  }
  for (auto& connection : connections) {
    connection->read_responses(2);
    REQUIRE(connection->responses().size() == 2);
    CHECK(connection->responses()[1].status == 200);
    CHECK_FALSE(connection->ended());
  }
  CHECK(eventually([&] { return server_threads(server) <= threads; }));
}

TEST_CASE("posts from 300 connections at once are answered from their commits, with no thread each",
          "[e2e]") {
  constexpr std::size_t k_connections = 300;
  constexpr std::size_t k_posts = 3;  // on each connection, pipelined
  LivechatServer server({"serve", "--port", "0", "--notify-port", "0"});
  const int port = server.port("message");
  const std::size_t threads = server_threads(server);
  INFO("server threads before: " << threads);
  CHECK(threads <= 16);
  std::vector<std::unique_ptr<RawConnection>> connections;
  for (std::size_t i = 0; i < k_connections; ++i) {
    connections.push_back(std::make_unique<RawConnection>(port));
  }
  std::size_t peak = 0;
  for (std::size_t i = 0; i < k_connections; ++i) {
    std::string posts;
    for (std::size_t j = 0; j < k_posts; ++j) {
      const std::string body =
          R"({"content":"post )" + std::to_string(i) + "." + std::to_string(j) + R"("})";
      posts +=
          "POST /messages HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
          "Content-Length: " +
          std::to_string(body.size()) + "\r\n\r\n" + body;
    }
    REQUIRE(connections[i]->send(posts));
    if (i % 50 == 0) {
      peak = std::max(peak, server_threads(server));
    }
  }
  std::set<std::string> ids;
  for (std::size_t i = 0; i < k_connections; ++i) {
    connections[i]->read_responses(k_posts);
    auto responses = connections[i]->responses();
    REQUIRE(responses.size() == k_posts);
    for (std::size_t j = 0; j < k_posts; ++j) {
      CHECK(responses[j].status == 201);
      auto stored = json::parse(responses[j].body);
      // Each connection's answers come in the order of its posts.
      CHECK(stored["content"] == "post " + std::to_string(i) + "." + std::to_string(j));
      ids.insert(stored["id"].get<std::string>());
    }
    CHECK_FALSE(connections[i]->ended());
    peak = std::max(peak, server_threads(server));
  }
  CHECK(ids.size() == k_connections * k_posts);  // every post stored once
  CHECK(peak <= threads);
}

TEST_CASE("bench against a real server", "[e2e]") {
  LivechatServer server({"serve", "--port", "0", "--notify-port", "0"});
  auto run =
      run_in_process({"bench", "-n", "50", "-m", "200", "--rate", "400", "--json", "--message-url",
                      server.url("message"), "--notify-url", server.url("notification")});
  INFO("stderr: " << run.err);
  REQUIRE(run.code == 0);
  auto report = json::parse(run.out);
  CHECK(report["connected"] == 50);
  CHECK(report["published"] == 200);
  CHECK(report["received"] == 50 * 200);
  CHECK(report["lost"] == 0);
  CHECK(report["duplicated"] == 0);
  CHECK(report["out_of_order"] == 0);
  CHECK(report["server"]["pid"] == server.process().pid());
}

TEST_CASE("bench against a server through --events-url and --publish-url", "[e2e]") {
  // livechat's own endpoints, driven as a foreign server: raw data, connected on the 200 head.
  LivechatServer server({"serve", "--port", "0", "--notify-port", "0"});
  auto run = run_in_process({"bench", "-n", "20", "-m", "100", "--rate", "400", "--json",
                             "--events-url", server.url("notification") + "/events?room=foreign",
                             "--publish-url", server.url("message") + "/messages", "--publish-body",
                             R"({"content":"{content}","room":"foreign"})"});
  INFO("stderr: " << run.err);
  REQUIRE(run.code == 0);
  auto report = json::parse(run.out);
  CHECK(report["connected"] == 20);
  CHECK(report["published"] == 100);
  CHECK(report["received"] == 20 * 100);
  CHECK(report["lost"] == 0);
  CHECK(report["out_of_order"] == 0);
  CHECK(report["server"]["pid"] == server.process().pid());
}

TEST_CASE("bench without a notification service", "[e2e]") {
  auto run = run_in_process({"bench", "-n", "5", "-m", "5", "--notify-url",
                             "http://127.0.0.1:" + std::to_string(free_port())});
  CHECK(run.code == 1);
  CHECK(run.err.rfind("livechat: error: no stream opened to the notification service", 0) == 0);
  CHECK(run.out.empty());
}
