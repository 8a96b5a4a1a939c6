// End to end: the HTTP edge as an attacker meets it, over raw sockets. Every refused request
// gets one JSON answer and its connection closes, so that nothing sent after it is read as a
// request; nothing that was not meant to be sent is stored.
#include <httplib.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/support/helpers.hpp"
#include "tests/support/process.hpp"
#include "tests/support/raw_connection.hpp"

using namespace livechat::test;
using json = nlohmann::json;

namespace {

// A POST that stores "smuggled": it follows each refused request on the same connection, and
// must never run.
const std::string k_hidden_body = R"({"content":"smuggled","user":"mallory"})";
const std::string k_hidden_post =
    "POST /messages HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
    "Content-Length: " +
    std::to_string(k_hidden_body.size()) + "\r\n\r\n" + k_hidden_body;

struct Case {
  const char* name;
  std::string request;  // sent at once, then k_hidden_post right behind it
  int status;
  const char* code;
};

std::string get(const std::string& headers) {
  return "GET /health HTTP/1.1\r\nHost: localhost\r\n" + headers + "\r\n";
}

std::string post(const std::string& headers, const std::string& body = "") {
  return "POST /messages HTTP/1.1\r\nHost: localhost\r\n" + headers + "\r\n" + body;
}

const std::string k_json = R"({"content":"hi"})";
const std::string k_multipart_body =
    "--b\r\nContent-Disposition: form-data; name=\"content\"\r\n\r\nhi\r\n--b--\r\n";
const std::string k_multipart =
    "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: " +
    std::to_string(k_multipart_body.size()) + "\r\n";

// Returns `count` header lines of about 1 KiB each.
std::string padding(int count) {
  std::string headers;
  for (int i = 0; i < count; ++i) {
    headers += "X-Pad-" + std::to_string(i) + ": " + std::string(1000, 'p') + "\r\n";
  }
  return headers;
}

// Requests every HTTP/1.1 reader must take one way only, or refuse.
std::vector<Case> refused_cases() {
  return {
      {"a header line over 8 KiB", get("X-Long: " + std::string(9000, 'a') + "\r\n"), 431,
       "headers_too_large"},
      {"a URL over 8 KiB", "GET /health?" + std::string(9000, 'u') + " HTTP/1.1\r\nHost: x\r\n\r\n",
       414, "uri_too_long"},
      {"HTTP/9.9", "GET /health HTTP/9.9\r\nHost: x\r\n\r\n", 505, "version_not_supported"},
      {"HTTP/2.0", "GET /health HTTP/2.0\r\nHost: x\r\n\r\n", 505, "version_not_supported"},
      {"a junk request line", "HELLO\r\n\r\n", 400, "bad_request"},
      {"two spaces in the request line", "GET  /health HTTP/1.1\r\nHost: x\r\n\r\n", 400,
       "bad_request"},
      {"a lower-case version", "GET /health http/1.1\r\nHost: x\r\n\r\n", 400, "bad_request"},
      {"a target without its slash", "GET health HTTP/1.1\r\nHost: x\r\n\r\n", 400, "bad_request"},
      {"a raw byte in the target", "GET /he\x01lth HTTP/1.1\r\nHost: x\r\n\r\n", 400,
       "bad_request"},
      {"a method that is no token", "G(T /health HTTP/1.1\r\nHost: x\r\n\r\n", 400, "bad_request"},
      {"an unknown method", "BREW /health HTTP/1.1\r\nHost: x\r\n\r\n", 501, "not_implemented"},
      {"Content-Length and Transfer-Encoding together",
       post("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n"), 400,
       "bad_request"},
      {"Transfer-Encoding and Content-Length together",
       post("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", "0\r\n\r\n"), 400,
       "bad_request"},
      {"two Content-Lengths that differ",
       post("Content-Length: 19\r\nContent-Length: 5\r\n", k_json), 400, "bad_request"},
      {"Content-Length 16abc", post("Content-Length: 16abc\r\n", k_json), 400, "bad_request"},
      {"Content-Length +16", post("Content-Length: +16\r\n", k_json), 400, "bad_request"},
      {"Content-Length -5", post("Content-Length: -5\r\n", k_json), 400, "bad_request"},
      {"Content-Length 0x10", post("Content-Length: 0x10\r\n", k_json), 400, "bad_request"},
      {"Content-Length 1 6", post("Content-Length: 1 6\r\n", k_json), 400, "bad_request"},
      {"Content-Length as a list", post("Content-Length: 16, 16\r\n", k_json), 400, "bad_request"},
      {"an empty Content-Length", post("Content-Length: \r\n", k_json), 400, "bad_request"},
      {"a Content-Length of 20 digits", post("Content-Length: 99999999999999999999\r\n"), 413,
       "too_large"},
      {"a Content-Length over --max-body-bytes (the body never sent)",
       post("Content-Length: 2000000\r\n"), 413, "too_large"},
      {"Transfer-Encoding: foo", post("Transfer-Encoding: foo\r\n", "0\r\n\r\n"), 501,
       "not_implemented"},
      {"Transfer-Encoding: gzip, chunked",
       post("Transfer-Encoding: gzip, chunked\r\n", "0\r\n\r\n"), 501, "not_implemented"},
      {"two Transfer-Encoding headers",
       post("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n"), 501,
       "not_implemented"},
      {"Transfer-Encoding in HTTP/1.0",
       "POST /messages HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
       "bad_request"},
      {"a header line without a colon", get("X-No-Colon\r\n"), 400, "bad_request"},
      {"a space before the colon", get("X-Space : 1\r\n"), 400, "bad_request"},
      {"an empty header name", get(": 1\r\n"), 400, "bad_request"},
      {"obs-fold", get("X-Folded: a\r\n b\r\n"), 400, "bad_request"},
      {"a NUL in a value", get(std::string("X-Nul: a\0b\r\n", 12)), 400, "bad_request"},
      {"a bare CR in a value", get("X-Cr: a\rb\r\n"), 400, "bad_request"},
      {"a DEL in a value", get("X-Del: a\x7f\r\n"), 400, "bad_request"},
      {"a line ended by LF alone", "GET /health HTTP/1.1\nHost: x\n\n", 400, "bad_request"},
      {"no Host in HTTP/1.1", "GET /health HTTP/1.1\r\n\r\n", 400, "bad_request"},
      {"two Host headers", get("Host: other\r\n"), 400, "bad_request"},
      {"a head over --max-header-bytes", get(padding(40)), 431, "headers_too_large"},
      {"a multipart post to /messages (curl -F)", post(k_multipart, k_multipart_body), 415,
       "unsupported_media_type"},
      {"a compressed body (Content-Encoding: gzip)",
       post("Content-Encoding: gzip\r\nContent-Length: 16\r\n", k_json), 415,
       "unsupported_media_type"},
      {"a percent-encoded Content-Type",
       post("Content-Type: %6Dultipart/form-data; boundary=b\r\nContent-Length: " +
                std::to_string(k_multipart_body.size()) + "\r\n",
            k_multipart_body),
       400, "bad_request"},
      {"a chunked body over --max-body-bytes",
       post("Transfer-Encoding: chunked\r\n",
            "11170\r\n" + std::string(70000, 'x') + "\r\n0\r\n\r\n"),
       413, "too_large"},
  };
}

// Sends `request` and the hidden POST behind it; checks the one answer and the close.
void check_refused(int port, const Case& c) {
  INFO(c.name);
  RawConnection connection(port);
  connection.send(c.request + k_hidden_post);
  connection.read_to_end();
  CHECK(connection.ended());
  auto responses = connection.responses();
  CHECK(responses.size() == 1);  // one answer: the hidden POST behind it got none
  if (responses.empty()) {
    return;
  }
  CHECK(responses[0].status == c.status);
  CHECK(responses[0].header("Connection") == "close");
  CHECK(responses[0].header("Content-Type") == "application/json");
  CHECK(responses[0].header("X-Content-Type-Options") == "nosniff");
  CHECK(json::parse(responses[0].body).at("code") == c.code);
}

// Returns the contents of every stored message.
std::vector<std::string> stored_contents(int port) {
  httplib::Client client("127.0.0.1", port);
  auto history = client.Get("/messages?limit=1000");
  REQUIRE(history);
  REQUIRE(history->status == 200);
  std::vector<std::string> contents;
  for (const auto& m : json::parse(history->body)) {
    contents.push_back(m.at("content"));
  }
  return contents;
}

bool serving(int port) {
  httplib::Client client("127.0.0.1", port);
  auto health = client.Get("/health");
  return health && health->status == 200;
}

}  // namespace

TEST_CASE("the HTTP edge refuses what it cannot read one way only", "[e2e]") {
  LivechatServer server({"serve", "--db", ":memory:", "--port", "0", "--notify-port", "0",
                         "--max-body-bytes", "65536", "--request-timeout", "1"});
  const int message = server.port("message");
  const int notify = server.port("notification");

  SECTION("each request that could be read two ways gets one JSON answer and the close") {
    const auto cases = refused_cases();
    CHECK(cases.size() >= 38);
    for (const auto& c : cases) {
      check_refused(message, c);
    }
  }

  SECTION("multipart to /notify is 415 as well") {
    const std::string body = k_multipart_body;
    check_refused(notify, {"multipart to /notify",
                           "POST /notify HTTP/1.1\r\nHost: x\r\n" + k_multipart + "\r\n" + body,
                           415, "unsupported_media_type"});
  }

  SECTION("a request line cut off, then silence, gets a 408 and the close") {
    RawConnection cut(message);
    REQUIRE(cut.send("GET /health HT"));
    cut.read_to_end();
    CHECK(cut.ended());
    REQUIRE(cut.status() == 408);
    CHECK(json::parse(cut.responses().at(0).body)["code"] == "request_timeout");
  }

  SECTION("headers that stop before their blank line get a 408 and the close") {
    RawConnection cut(message);
    REQUIRE(cut.send("GET /health HTTP/1.1\r\nHost: x\r\nX-Half: "));
    cut.read_to_end();
    CHECK(cut.ended());
    CHECK(cut.status() == 408);
  }

  SECTION("a GET's unread body is not taken for the next request") {
    RawConnection connection(message);
    connection.send(get("Content-Length: " + std::to_string(k_hidden_post.size()) + "\r\n") +
                    k_hidden_post);
    connection.read_to_end();  // closed, or kept alive until its idle time ends
    auto responses = connection.responses();
    REQUIRE(responses.size() == 1);
    CHECK(responses[0].status == 200);
  }

  SECTION("a chunked post is served, and its connection closes after it") {
    RawConnection connection(message);
    connection.send(post("Transfer-Encoding: chunked\r\nContent-Type: application/json\r\n",
                         "18\r\n{\"content\":\"chunked ok\"}\r\n0\r\n\r\n") +
                    k_hidden_post);
    connection.read_to_end();
    CHECK(connection.ended());
    auto responses = connection.responses();
    REQUIRE(responses.size() == 1);
    CHECK(responses[0].status == 201);
    CHECK(responses[0].header("Connection") == "close");
  }

  SECTION("a 100-continue with a body over the limit is refused before the body") {
    RawConnection connection(message);
    connection.send(post("Expect: 100-continue\r\nContent-Length: 2000000\r\n"));
    connection.read_to_end();
    CHECK(connection.ended());
    auto responses = connection.responses();
    REQUIRE(responses.size() == 1);  // no "100 Continue" first
    CHECK(responses[0].status == 413);
  }

  SECTION("a post with no length has an empty body, answered at once; the connection goes on") {
    RawConnection connection(message);
    connection.send(post("") + get(""));
    connection.read_responses(2);
    auto responses = connection.responses();
    REQUIRE(responses.size() == 2);
    CHECK(responses[0].status == 400);
    CHECK(json::parse(responses[0].body)["code"] == "bad_json");
    CHECK(responses[1].status == 200);
  }

  SECTION("a gate refuses a 100-continue before the client is told to send its body") {
    RawConnection connection(notify);  // serve's POST /notify is not served without a token
    connection.send(
        "POST /notify HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
        "Content-Length: 1000\r\n\r\n");
    connection.read_to_end();
    CHECK(connection.ended());
    auto responses = connection.responses();
    REQUIRE(responses.size() == 1);  // no "100 Continue" first
    CHECK(responses[0].status == 404);
  }

  SECTION("sound requests keep their connection: pipelined GETs and posts are all served") {
    RawConnection connection(message);
    std::string one = R"({"content":"pipelined one"})";
    std::string two = R"({"content":"pipelined two"})";
    connection.send("\r\n" + get("") + get("") +
                    post("Content-Type: application/json\r\nContent-Length: " +
                             std::to_string(one.size()) + "\r\n",
                         one) +
                    post("Content-Length: " + std::to_string(two.size()) + "\r\n", two));
    connection.read_responses(4);
    auto responses = connection.responses();
    REQUIRE(responses.size() == 4);
    CHECK(responses[0].status == 200);
    CHECK(responses[1].status == 200);
    CHECK(responses[2].status == 201);
    CHECK(responses[3].status == 201);
    CHECK(responses[3].header("Connection") != "close");
    CHECK(!connection.ended());
    auto contents = stored_contents(message);
    CHECK(std::count(contents.begin(), contents.end(), "pipelined one") == 1);
    CHECK(std::count(contents.begin(), contents.end(), "pipelined two") == 1);
  }

  // After everything: nothing smuggled was stored, and both services still serve.
  auto contents = stored_contents(message);
  CHECK(std::count(contents.begin(), contents.end(), "smuggled") == 0);
  CHECK(serving(message));
  CHECK(serving(notify));
  CHECK(!post_message(message, "still taking messages").empty());
}
