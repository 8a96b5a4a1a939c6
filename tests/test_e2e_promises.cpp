// End to end: what README.md and API.md promise, each checked from outside against real services.
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <httplib.h>

#include <algorithm>
#include <regex>
#include <sstream>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/support/helpers.hpp"
#include "tests/support/in_process.hpp"
#include "tests/support/process.hpp"
#include "tests/support/raw_connection.hpp"
#include "tests/support/sse_client.hpp"

using namespace livechat::test;
using json = nlohmann::json;

namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Tells whether a comma-separated header value names `item`, whatever its case.
bool lists(const std::string& header, const std::string& item) {
  auto same = [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) ==
           std::tolower(static_cast<unsigned char>(b));
  };
  std::stringstream values(header);
  for (std::string value; std::getline(values >> std::ws, value, ',');) {
    while (!value.empty() && value.back() == ' ') {
      value.pop_back();
    }
    if (std::equal(value.begin(), value.end(), item.begin(), item.end(), same)) {
      return true;
    }
  }
  return false;
}

// Posts a JSON body to the message service on `port`.
httplib::Result post_json(int port, const std::string& body, const httplib::Headers& headers = {}) {
  httplib::Client client("127.0.0.1", port);
  return client.Post("/messages", headers, body, "application/json");
}

// Waits until the notification service on `port` counts `count` streams (a stream is counted
// once its subscription is in place, just after its `connected` event is sent).
bool counts_streams(int port, int count) {
  httplib::Client client("127.0.0.1", port);
  return eventually([&] {
    auto health = client.Get("/health");
    return health && json::parse(health->body)["clients"] == count;
  });
}

// Sends a request head by hand and returns the one answer to it.
RawResponse raw_answer(int port, const std::string& head) {
  RawConnection connection(port);
  connection.send(head);
  connection.read_responses(1);
  auto answers = connection.responses();
  REQUIRE(answers.size() == 1);
  return answers.front();
}

}  // namespace

// Promised in API.md "Cross-cutting" (every endpoint answers OPTIONS preflights and sends
// Access-Control-Allow-Origin, default *) and README "Limits" (every endpoint answers CORS
// preflights).
TEST_CASE("CORS on every endpoint of both services, errors included", "[e2e]") {
  LivechatServer notify(
      {"serve-notify", "--port", "0", "--max-clients", "1", "--notify-token", "relay-secret"});
  LivechatServer message({"serve-message", "--port", "0", "--notify-url",
                          notify.url("notification"), "--notify-token", "relay-secret"});
  const int m = message.port("message");
  const int n = notify.port("notification");
  const httplib::Headers from_page = {{"Origin", "http://page.test"}};
  struct Endpoint {
    int port;
    std::string method;
    std::string path;
    std::string headers;  // what a page sends that needs a preflight
  };
  const std::vector<Endpoint> endpoints = {
      {m, "POST", "/messages", "Content-Type, Authorization"},
      {m, "GET", "/messages", "Authorization"},
      {m, "GET", "/health", ""},
      {m, "GET", "/metrics", ""},
      {m, "GET", "/", ""},
      {n, "GET", "/events", "Last-Event-ID, Authorization"},
      {n, "POST", "/notify", "Content-Type, Authorization"},
      {n, "GET", "/health", ""},
      {n, "GET", "/metrics", ""},
  };

  SECTION("a preflight to each endpoint is answered with what a browser needs") {
    for (const auto& e : endpoints) {
      INFO(e.method << " " << e.path << " on port " << e.port);
      httplib::Client client("127.0.0.1", e.port);
      httplib::Headers headers = {{"Origin", "http://page.test"},
                                  {"Access-Control-Request-Method", e.method}};
      if (!e.headers.empty()) {
        headers.emplace("Access-Control-Request-Headers", e.headers);
      }
      auto result = client.Options(e.path, headers);
      REQUIRE(result);
      CHECK(result->status == 204);
      CHECK(result->get_header_value("Access-Control-Allow-Origin") == "*");
      CHECK(lists(result->get_header_value("Access-Control-Allow-Methods"), e.method));
      std::stringstream asked(e.headers);
      for (std::string header; std::getline(asked >> std::ws, header, ',');) {
        CHECK(lists(result->get_header_value("Access-Control-Allow-Headers"), header));
      }
    }
  }

  SECTION("each endpoint's answer carries Access-Control-Allow-Origin") {
    httplib::Client to_message("127.0.0.1", m);
    httplib::Client to_notify("127.0.0.1", n);
    std::vector<std::pair<std::string, httplib::Result>> answers;
    answers.emplace_back("POST /messages", post_json(m, R"({"content":"hi"})", from_page));
    answers.emplace_back("GET /messages", to_message.Get("/messages", from_page));
    answers.emplace_back("GET /health (message)", to_message.Get("/health", from_page));
    answers.emplace_back("GET /metrics (message)", to_message.Get("/metrics", from_page));
    answers.emplace_back("GET /", to_message.Get("/", from_page));
    httplib::Headers with_token = from_page;
    with_token.emplace("Authorization", "Bearer relay-secret");
    answers.emplace_back(
        "POST /notify",
        to_notify.Post("/notify", with_token, R"({"id":"n1","content":"hi"})", "application/json"));
    answers.emplace_back("GET /health (notify)", to_notify.Get("/health", from_page));
    answers.emplace_back("GET /metrics (notify)", to_notify.Get("/metrics", from_page));
    for (auto& [what, result] : answers) {
      INFO(what);
      REQUIRE(result);
      CHECK(result->status / 100 == 2);
      CHECK(result->get_header_value("Access-Control-Allow-Origin") == "*");
    }
    SseClient stream(n, "/events", {{"Origin", "http://page.test"}});
    REQUIRE(stream.wait_connected());
    CHECK(stream.header("Access-Control-Allow-Origin") == "*");
  }

  SECTION("error answers carry it too, also those sent before a request is read") {
    httplib::Client to_message("127.0.0.1", m);
    httplib::Client to_notify("127.0.0.1", n);
    std::vector<std::pair<std::string, httplib::Result>> answers;
    answers.emplace_back("400 POST /messages", post_json(m, "{not json", from_page));
    answers.emplace_back("404 message service", to_message.Get("/nowhere", from_page));
    answers.emplace_back("400 GET /messages", to_message.Get("/messages?limit=0", from_page));
    answers.emplace_back("404 notification service", to_notify.Get("/nowhere", from_page));
    answers.emplace_back("401 POST /notify",
                         to_notify.Post("/notify", from_page, R"({"id":"x"})", "application/json"));
    answers.emplace_back("400 GET /events", to_notify.Get("/events?room=a,,b", from_page));
    for (auto& [what, result] : answers) {
      INFO(what);
      REQUIRE(result);
      CHECK(result->status / 100 == 4);
      CHECK(result->get_header_value("Access-Control-Allow-Origin") == "*");
    }

    SseClient first(n, "/events");
    REQUIRE(first.wait_connected());
    REQUIRE(counts_streams(n, 1));
    SseClient refused(n, "/events", {{"Origin", "http://page.test"}});
    REQUIRE(refused.wait_ended());
    CHECK(refused.status() == 503);
    CHECK(refused.header("Access-Control-Allow-Origin") == "*");

    // Refused from the head alone: a body over --max-body-bytes, a header line over 8 KiB.
    auto too_large =
        raw_answer(m,
                   "POST /messages HTTP/1.1\r\nHost: x\r\nOrigin: http://page.test\r\n"
                   "Content-Type: application/json\r\nContent-Length: 9000000\r\n\r\n");
    CHECK(too_large.status == 413);
    CHECK(too_large.header("access-control-allow-origin") == "*");
    for (int port : {m, n}) {
      auto too_long = raw_answer(port,
                                 "GET /health HTTP/1.1\r\nHost: x\r\nOrigin: http://page.test\r\n"
                                 "X-Long: " +
                                     std::string(9000, 'a') + "\r\n\r\n");
      CHECK(too_long.status == 431);
      CHECK(too_long.header("access-control-allow-origin") == "*");
    }
  }
}

// Promised in README "What runs" (`--cors-origin`, `LIVECHAT_CORS_ORIGINS`, default `*`) and
// API.md "Cross-cutting" (a configurable list).
TEST_CASE("CORS: --cors-origin lists the only origins answered", "[e2e]") {
  LivechatServer notify({"serve-notify", "--port", "0", "--cors-origin", "http://a.test",
                         "--cors-origin", "http://b.test"});
  LivechatServer message({"serve-message", "--port", "0", "--notify-url",
                          notify.url("notification"), "--cors-origin",
                          "http://a.test,http://b.test"});
  for (int port : {message.port("message"), notify.port("notification")}) {
    INFO("port " << port);
    httplib::Client client("127.0.0.1", port);
    for (const std::string origin : {"http://a.test", "http://b.test"}) {
      auto answer = client.Get("/health", {{"Origin", origin}});
      REQUIRE(answer);
      CHECK(answer->get_header_value("Access-Control-Allow-Origin") == origin);
      CHECK(lists(answer->get_header_value("Vary"), "Origin"));
      auto preflight =
          client.Options("/health", {{"Origin", origin}, {"Access-Control-Request-Method", "GET"}});
      REQUIRE(preflight);
      CHECK(preflight->get_header_value("Access-Control-Allow-Origin") == origin);
      auto missing = client.Get("/nowhere", {{"Origin", origin}});
      REQUIRE(missing);
      CHECK(missing->status == 404);
      CHECK(missing->get_header_value("Access-Control-Allow-Origin") == origin);
    }
    for (const httplib::Headers& headers :
         {httplib::Headers{{"Origin", "http://c.test"}}, httplib::Headers{}}) {
      auto answer = client.Get("/health", headers);
      REQUIRE(answer);
      CHECK(answer->status == 200);
      CHECK_FALSE(answer->has_header("Access-Control-Allow-Origin"));
      CHECK(lists(answer->get_header_value("Vary"), "Origin"));
    }
    auto preflight = client.Options(
        "/health", {{"Origin", "http://c.test"}, {"Access-Control-Request-Method", "GET"}});
    REQUIRE(preflight);
    CHECK_FALSE(preflight->has_header("Access-Control-Allow-Origin"));
  }
  SseClient listed(notify.port("notification"), "/events", {{"Origin", "http://b.test"}});
  SseClient other(notify.port("notification"), "/events", {{"Origin", "http://c.test"}});
  REQUIRE(listed.wait_connected());
  REQUIRE(other.wait_connected());
  CHECK(listed.header("Access-Control-Allow-Origin") == "http://b.test");
  CHECK(other.header("Access-Control-Allow-Origin").empty());
  auto posted =
      post_json(message.port("message"), R"({"content":"hi"})", {{"Origin", "http://a.test"}});
  REQUIRE(posted);
  CHECK(posted->status == 201);
  CHECK(posted->get_header_value("Access-Control-Allow-Origin") == "http://a.test");
}

// Promised in API.md "Message service" (`limit=N`, default 100, at most 1000; oldest first).
TEST_CASE("history: 100 messages by default, limit= at most 1000", "[e2e]") {
  auto server = start_serve();
  const int port = server.port("message");
  httplib::Client client("127.0.0.1", port);
  client.set_keep_alive(true);
  client.set_tcp_nodelay(true);
  std::vector<std::string> ids;
  for (int i = 0; i < 1005; ++i) {
    auto posted =
        client.Post("/messages", json{{"content", std::to_string(i)}}.dump(), "application/json");
    REQUIRE(posted);
    REQUIRE(posted->status == 201);
    ids.push_back(json::parse(posted->body)["id"]);
  }
  auto span = [](std::size_t count, const std::string& first, const std::string& last) {
    return std::to_string(count) + " messages, " + first + " to " + last;
  };
  // Describes a history answer by its size and its first and last id.
  auto history = [&](const std::string& query) {
    auto result = client.Get("/messages" + query);
    REQUIRE(result);
    REQUIRE(result->status == 200);
    auto got = json::parse(result->body);
    REQUIRE(!got.empty());
    return span(got.size(), got.front()["id"], got.back()["id"]);
  };
  const auto latest = [&](std::size_t count) {
    return span(count, ids[ids.size() - count], ids.back());
  };
  CHECK(history("") == latest(100));
  CHECK(history("?limit=1000") == latest(1000));
  CHECK(history("?limit=1001") == latest(1000));
  CHECK(history("?limit=1000000") == latest(1000));
  CHECK(history("?after=" + ids[0] + "&limit=5000") == span(1000, ids[1], ids[1000]));
}

// Promised in API.md "SSE stream rules" (`connected` carries the given client_id, or a
// generated one).
TEST_CASE("a stream without client_id gets a generated one", "[e2e]") {
  LivechatServer notify({"serve-notify", "--port", "0"});
  const int port = notify.port("notification");
  auto client_id = [](const SseClient& stream) {
    auto connected = stream.events().front();
    REQUIRE(connected.type == "connected");
    return json::parse(connected.data)["client_id"].get<std::string>();
  };
  SseClient first(port, "/events");
  SseClient second(port, "/events?room=general");
  SseClient named(port, "/events?client_id=ann-laptop");
  REQUIRE(first.wait_connected());
  REQUIRE(second.wait_connected());
  REQUIRE(named.wait_connected());
  auto one = client_id(first);
  auto two = client_id(second);
  CHECK_FALSE(one.empty());
  CHECK_FALSE(two.empty());
  CHECK(one != two);
  CHECK(client_id(named) == "ann-laptop");
}

// Promised in README "Limits" (beyond `--max-clients`, `503` with `Retry-After`).
TEST_CASE("a stream beyond --max-clients gets 503 with Retry-After", "[e2e]") {
  LivechatServer notify(
      {"serve-notify", "--port", "0", "--max-clients", "2", "--max-streams-per-client", "0"});
  const int port = notify.port("notification");
  SseClient first(port, "/events");
  SseClient second(port, "/events");
  REQUIRE(first.wait_connected());
  REQUIRE(second.wait_connected());
  REQUIRE(counts_streams(port, 2));
  SseClient refused(port, "/events");
  REQUIRE(refused.wait_ended());
  CHECK(refused.status() == 503);
  CHECK(json::parse(refused.raw())["code"] == "too_many_clients");
  auto retry_after = refused.header("Retry-After");
  CAPTURE(retry_after);
  REQUIRE(std::regex_match(retry_after, std::regex(R"([1-9]\d*)")));
}

namespace {

// Tells whether a TLS handshake that offers only `version` completes with 127.0.0.1:port.
bool handshake_with_only(int port, int version) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  // OpenSSL's own defaults refuse what is older than TLS 1.2: this client must not.
  SSL_CTX_set_security_level(ctx, 0);
  SSL_CTX_set_cipher_list(ctx, "DEFAULT:@SECLEVEL=0");
  SSL_CTX_set_min_proto_version(ctx, version);
  SSL_CTX_set_max_proto_version(ctx, version);
  int fd = connect_loopback(port);
  timeval wait{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  bool done = SSL_connect(ssl) == 1 && SSL_version(ssl) == version;
  SSL_free(ssl);
  ::close(fd);
  SSL_CTX_free(ctx);
  return done;
}

}  // namespace

// Promised in README "HTTPS" (TLS 1.2 is the oldest version taken).
TEST_CASE("HTTPS: TLS 1.2 is the oldest version taken", "[e2e]") {
  TempDir dir;
  const auto cert = dir.file("cert.pem");
  const auto key = dir.file("key.pem");
  Child openssl({"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                 "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                 "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", key, "-out",
                 cert});
  REQUIRE(openssl.wait_exit(30s) == 0);

  // The same handshakes complete with a server that takes the old versions.
  const int old_port = free_port();
  Child old_server({"/usr/bin/openssl", "s_server", "-www", "-accept",
                    "127.0.0.1:" + std::to_string(old_port), "-cert", cert, "-key", key, "-cipher",
                    "DEFAULT:@SECLEVEL=0"});
  REQUIRE(old_server.wait_until(
      [](const std::string& out, const std::string&) { return contains(out, "ACCEPT"); }, 10s));
  CHECK(handshake_with_only(old_port, TLS1_VERSION));
  CHECK(handshake_with_only(old_port, TLS1_1_VERSION));

  LivechatServer server(
      {"serve", "--port", "0", "--notify-port", "0", "--tls-cert", cert, "--tls-key", key});
  for (int port : {server.port("message"), server.port("notification")}) {
    INFO("port " << port);
    CHECK_FALSE(handshake_with_only(port, TLS1_VERSION));
    CHECK_FALSE(handshake_with_only(port, TLS1_1_VERSION));
    CHECK(handshake_with_only(port, TLS1_2_VERSION));
    CHECK(handshake_with_only(port, TLS1_3_VERSION));
  }
}

// Promised in README "Measuring it" (`bench` exits 2 if anything was lost) and
// `livechat bench --help` (0 when every message reached every stream).
TEST_CASE("bench exits 2 when messages are lost, 0 when none are", "[e2e]") {
  auto here = start_serve();
  SECTION("every message arrives: 0") {
    auto run = run_in_process({"bench", "-n", "3", "-m", "10", "--json", "--message-url",
                               here.url("message"), "--notify-url", here.url("notification")});
    INFO("stderr: " << run.err);
    CHECK(run.code == 0);
    CHECK(json::parse(run.out)["lost"] == 0);
  }
  SECTION("streams on a service the messages never reach: 2, after the 10 s drain") {
    auto elsewhere = start_serve();
    auto run = run_in_process({"bench", "-n", "3", "-m", "10", "--json", "--message-url",
                               here.url("message"), "--notify-url", elsewhere.url("notification")});
    INFO("stderr: " << run.err);
    CHECK(run.code == 2);
    auto report = json::parse(run.out);
    CHECK(report["connected"] == 3);
    CHECK(report["published"] == 10);
    CHECK(report["lost"] == 30);
  }
}

// Promised in README "The first minute" (Ctrl-C: streams get a closing comment and the
// process exits 0).
TEST_CASE("SIGINT stops each service with exit 0", "[e2e]") {
  SECTION("serve") {
    auto server = start_serve();
    SseClient stream(server.port("notification"), "/events");
    REQUIRE(stream.wait_connected());
    post_message(server.port("message"), "before the stop");
    REQUIRE(stream.wait_messages(1));
    server.process().signal(SIGINT);
    CHECK(server.process().wait_exit(10s) == 0);
    REQUIRE(stream.wait_ended());
    CHECK(contains(stream.raw(), ": server shutting down"));
    CHECK(server.process().wait_for_err("SIGINT received", 0ms));
  }
  SECTION("serve-notify") {
    LivechatServer notify({"serve-notify", "--port", "0"});
    SseClient stream(notify.port("notification"), "/events");
    REQUIRE(stream.wait_connected());
    notify.process().signal(SIGINT);
    CHECK(notify.process().wait_exit(10s) == 0);
    REQUIRE(stream.wait_ended());
    CHECK(contains(stream.raw(), ": server shutting down"));
    CHECK(notify.process().wait_for_err("SIGINT received", 0ms));
  }
  SECTION("serve-message") {
    LivechatServer notify({"serve-notify", "--port", "0"});
    LivechatServer message(
        {"serve-message", "--port", "0", "--notify-url", notify.url("notification")});
    post_message(message.port("message"), "before the stop");
    message.process().signal(SIGINT);
    CHECK(message.process().wait_exit(10s) == 0);
    CHECK(message.process().wait_for_err("SIGINT received", 0ms));
  }
}
