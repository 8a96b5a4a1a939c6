// End to end: what operators see: /metrics on both services, and the logs.
#include <httplib.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "tests/support/helpers.hpp"
#include "tests/support/in_process.hpp"
#include "tests/support/process.hpp"
#include "tests/support/sse_client.hpp"

using namespace livechat::test;

namespace {

// Reads /metrics and returns the value of the sample `series` (name with its labels), or -1.
double metric(int port, const std::string& series) {
  httplib::Client client("127.0.0.1", port);
  auto result = client.Get("/metrics");
  REQUIRE(result);
  REQUIRE(result->status == 200);
  CHECK(result->get_header_value("Content-Type") == "text/plain; version=0.0.4; charset=utf-8");
  for (const auto& line : split_lines(result->body)) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ') {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return -1;
}

}  // namespace

TEST_CASE("metrics", "[e2e]") {
  auto server = start_serve();
  int message = server.port("message");
  int notify = server.port("notification");
  CHECK(metric(message, "livechat_messages_accepted_total") == 0);
  CHECK(metric(notify, "livechat_clients") == 0);

  SseClient first(notify, "/events");
  SseClient second(notify, "/events");
  REQUIRE(first.wait_connected());
  REQUIRE(second.wait_connected());
  // A stream is counted just after its `connected` event is written.
  CHECK(eventually([&] { return metric(notify, "livechat_clients") == 2; }));
  for (int i = 0; i < 3; ++i) {
    post_message(message, "counted " + std::to_string(i));
  }
  httplib::Client client("127.0.0.1", message);
  CHECK(client.Post("/messages", "{", "application/json")->status == 400);
  CHECK(client.Post("/messages", R"({"content":"  "})", "application/json")->status == 400);
  // Refused before its body was read, and counted all the same.
  const std::string huge(2 * 1024 * 1024, 'x');
  auto too_large = client.Post("/messages", huge, "application/json");
  CHECK((!too_large || too_large->status == 413));
  REQUIRE(first.wait_messages(3));
  REQUIRE(second.wait_messages(3));

  CHECK(metric(message, "livechat_messages_accepted_total") == 3);
  CHECK(metric(message, R"(livechat_messages_rejected_total{reason="bad_json"})") == 1);
  CHECK(metric(message, R"(livechat_messages_rejected_total{reason="bad_content"})") == 1);
  CHECK(metric(message, R"(livechat_messages_rejected_total{reason="too_large"})") == 1);
  CHECK(metric(message, "livechat_messages_stored") == 3);
  CHECK(metric(message, "livechat_outbox_backlog") == 0);
  // A request is timed once its answer is written, just after the client has it.
  const std::string posts = R"({service="message",method="POST",path="/messages")";
  CHECK(eventually([&] {
    return metric(message, "livechat_http_request_duration_seconds_count" + posts + "}") == 6;
  }));
  CHECK(metric(message,
               "livechat_http_request_duration_seconds_bucket" + posts + R"(,le="+Inf"})") == 6);
  CHECK(metric(notify, "livechat_published_total") == 3);
  CHECK(eventually([&] { return metric(notify, "livechat_deliveries_total") == 6; }));
  CHECK(metric(notify, "livechat_resumes_total") == 0);

  SseClient resumed(notify, "/events", {{"Last-Event-ID", first.messages()[0].id}});
  REQUIRE(resumed.wait_messages(2));
  CHECK(metric(notify, "livechat_resumes_total") == 1);
  first.close();
  CHECK(eventually([&] { return metric(notify, "livechat_clients") == 2; }));
}

TEST_CASE("logs", "[e2e]") {
  SECTION("--log-format json: every line one JSON object; no message content, even at debug") {
    LivechatServer server({"serve", "--port", "0", "--notify-port", "0", "--log-format", "json",
                           "--log-level", "debug"});
    post_message(server.port("message"), "a secret nobody logs");
    httplib::Client client("127.0.0.1", server.port("message"));
    REQUIRE(client.Get("/health"));
    REQUIRE(server.stop() == 0);
    auto lines = split_lines(server.process().err());
    REQUIRE(lines.size() >= 4);
    std::set<std::string> levels;
    bool request_logged = false;
    for (const auto& line : lines) {
      INFO(line);
      auto record = nlohmann::json::parse(line);
      CHECK(record["time"].get<std::string>().size() == 27);  // 2026-11-24T03:44:50.216249Z
      levels.insert(record["level"].get<std::string>());
      auto message = record["message"].get<std::string>();
      request_logged |= message.rfind("GET /health 200 ", 0) == 0;
      CHECK(message.find("a secret nobody logs") == std::string::npos);
    }
    CHECK(request_logged);
    CHECK(levels.count("info") == 1);
    CHECK(levels.count("debug") == 1);
  }

  SECTION("text by default: one plain line a record, with its level, none of them JSON") {
    auto server = start_serve();
    post_message(server.port("message"), "hello");
    REQUIRE(server.stop() == 0);
    auto lines = split_lines(server.process().err());
    REQUIRE(lines.size() >= 4);
    static const std::regex k_text_record(
        R"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} (trace|debug|info|warning|error|critical) \S.*)");
    for (const auto& line : lines) {
      INFO(line);
      CHECK(std::regex_match(line, k_text_record));
    }
  }

  SECTION("a bad --log-format is a one-line error") {
    auto bad = run_in_process({"serve", "--log-format", "xml"});
    CHECK(bad.code != 0);
    CHECK(split_lines(bad.err) ==
          std::vector<std::string>{
              "livechat: error: --log-format: xml not in {text,json} (see --help)"});
  }
}
