#include "client/bench/load.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "client/bench/stream_pool.hpp"
#include "wire/message.hpp"

using livechat::client::bench::DeliveryTally;
using livechat::client::bench::ResponseDecoder;
using livechat::wire::sse::Event;

namespace {

std::vector<bool> all(std::size_t n) { return std::vector<bool>(n, true); }

// Wraps pieces of a body as HTTP/1.1 chunks, the first with an extension.
std::string chunked(const std::vector<std::string>& pieces) {
  std::string out;
  bool first = true;
  for (const auto& piece : pieces) {
    char size[32];
    std::snprintf(size, sizeof size, "%zx", piece.size());
    out += std::string(size) + (first ? ";name=value" : "") + "\r\n" + piece + "\r\n";
    first = false;
  }
  return out + "0\r\n\r\n";
}

const std::string k_head =
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n"
    "X-Accel-Buffering: no\r\n\r\n";

const std::string k_events =
    "retry: 2000\n\nevent: connected\ndata: {\"client_id\":\"c1\"}\n\n"
    "id: 20240101120000.000001\nevent: message\ndata: {\"content\":\"bench 0 5\"}\n\n"
    ": ping\n\n"
    "id: 20240101120000.000002\nevent: message\ndata: {\"content\":\"bench 1 6\"}\n\n";

struct Decoded {
  std::vector<Event> events;
  ResponseDecoder::State state = ResponseDecoder::State::head;
  std::string last_id;
};

Decoded decode(const std::vector<std::string>& parts) {
  ResponseDecoder decoder;
  Decoded out;
  for (const auto& part : parts) {
    out.state = decoder.feed(part, [&](const Event& e) { out.events.push_back(e); });
  }
  out.last_id = decoder.parser().last_event_id();
  return out;
}

bool same_events(const std::vector<Event>& a, const std::vector<Event>& b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].id != b[i].id || a[i].type != b[i].type || a[i].data != b[i].data) {
      return false;
    }
  }
  return true;
}

}  // namespace

TEST_CASE("load::DeliveryTally") {
  SECTION("every message to every listener: nothing lost") {
    DeliveryTally tally(3, 10);
    for (std::size_t l = 0; l < 3; ++l) {
      for (std::uint64_t seq = 0; seq < 10; ++seq) {
        CHECK(tally.record(l, seq));
      }
    }
    auto t = tally.totals(all(3), all(10));
    CHECK(t.expected == 30);
    CHECK(t.received == 30);
    CHECK(t.lost == 0);
    CHECK(t.duplicated == 0);
    CHECK(t.out_of_order == 0);
  }

  SECTION("missing messages count as lost, for the listener that missed them") {
    DeliveryTally tally(2, 5);
    for (std::uint64_t seq : {0, 1, 3}) {
      tally.record(0, seq);
    }
    for (std::uint64_t seq = 0; seq < 5; ++seq) {
      tally.record(1, seq);
    }
    auto t = tally.totals(all(2), all(5));
    CHECK(t.expected == 10);
    CHECK(t.received == 8);
    CHECK(t.lost == 2);
    CHECK_FALSE(tally.has(0, 2));
    CHECK(tally.has(1, 2));
  }

  SECTION("a second copy is a duplicate, not a second delivery") {
    DeliveryTally tally(1, 3);
    CHECK(tally.record(0, 0));
    CHECK(tally.record(0, 1));
    CHECK_FALSE(tally.record(0, 1));
    CHECK(tally.record(0, 2));
    auto t = tally.totals(all(1), all(3));
    CHECK(t.received == 3);
    CHECK(t.duplicated == 1);
    CHECK(t.lost == 0);
    CHECK(t.out_of_order == 0);
  }

  SECTION("a number lower than the highest seen is out of order") {
    DeliveryTally tally(1, 5);
    for (std::uint64_t seq : {0, 2, 1, 4, 3}) {
      tally.record(0, seq);
    }
    auto t = tally.totals(all(1), all(5));
    CHECK(t.out_of_order == 2);
    CHECK(t.lost == 0);
  }

  SECTION("the order key, not the sequence number, decides the order when given") {
    DeliveryTally tally(1, 3);
    tally.record(0, 1, 100);
    tally.record(0, 0, 200);
    tally.record(0, 2, 150);
    CHECK(tally.totals(all(1), all(3)).out_of_order == 1);
  }

  SECTION("listeners are counted independently") {
    DeliveryTally tally(2, 4);
    for (std::uint64_t seq : {3, 2, 1, 0}) {
      tally.record(0, seq);
    }
    tally.record(1, 0);
    tally.record(1, 0);
    auto t = tally.totals(all(2), all(4));
    CHECK(t.out_of_order == 3);
    CHECK(t.duplicated == 1);
    CHECK(t.received == 5);
    CHECK(t.lost == 3);
  }

  SECTION("only listening listeners and published messages are expected") {
    DeliveryTally tally(3, 4);
    for (std::uint64_t seq : {0, 2}) {
      tally.record(0, seq);
      tally.record(2, seq);
    }
    std::vector<bool> listening = {true, false, true};
    std::vector<bool> published = {true, false, true, false};
    auto t = tally.totals(listening, published);
    CHECK(t.expected == 4);
    CHECK(t.received == 4);
    CHECK(t.lost == 0);
  }

  SECTION("numbers past the run's messages are unexpected") {
    DeliveryTally tally(1, 2);
    CHECK_FALSE(tally.record(0, 7));
    auto t = tally.totals(all(1), all(2));
    CHECK(t.unexpected == 1);
    CHECK(t.received == 0);
    CHECK(t.lost == 2);
  }
}

TEST_CASE("load::parse_bench_notification") {
  using livechat::client::bench::bench_content;
  using livechat::client::bench::parse_bench_notification;

  SECTION("reads the payload of a rendered notification") {
    livechat::wire::Message m{"20240101120000.000001", bench_content(42, 123'456'789), "bench",
                              "bench", "2024-01-01T12:00:00.000001Z"};
    auto payload = parse_bench_notification(livechat::wire::notification_json(m));
    REQUIRE(payload);
    CHECK(payload->seq == 42);
    CHECK(payload->sent_ns == 123'456'789);
  }

  SECTION("reads it when the content is not where the fast path looks") {
    auto payload = parse_bench_notification(R"({"content" : "bench 7 99","id":"x"})");
    REQUIRE(payload);
    CHECK(payload->seq == 7);
    CHECK(payload->sent_ns == 99);
  }

  SECTION("reads it when the content is padded (bench --payload-bytes)") {
    auto payload = parse_bench_notification(R"({"content":"bench 5 66 xxxxxxxx","id":"x"})");
    REQUIRE(payload);
    CHECK(payload->seq == 5);
    CHECK(payload->sent_ns == 66);
  }

  SECTION("a quote after the payload ends it only as the end of the JSON string") {
    CHECK(parse_bench_notification(R"({"content":"bench 7 99"})"));
    CHECK_FALSE(parse_bench_notification(R"({"content":"bench 7 99\"x"})"));
    CHECK_FALSE(parse_bench_notification(R"({"content" : "bench 7 99\"x"})"));
  }

  SECTION("rejects other messages") {
    CHECK_FALSE(parse_bench_notification(R"({"content":"hello"})"));
    CHECK_FALSE(parse_bench_notification(R"({"content":"bench x 1"})"));
    CHECK_FALSE(parse_bench_notification("not json"));
  }
}

TEST_CASE("load::parse_bench_data") {
  using livechat::client::bench::bench_content;
  using livechat::client::bench::parse_bench_data;

  SECTION("reads the payload when it is the whole raw data") {
    auto payload = parse_bench_data(bench_content(3, 1'234));
    REQUIRE(payload);
    CHECK(payload->seq == 3);
    CHECK(payload->sent_ns == 1'234);
  }

  SECTION("finds it inside other text or JSON") {
    auto in_text = parse_bench_data("msg: bench 8 77\n");
    REQUIRE(in_text);
    CHECK(in_text->seq == 8);
    CHECK(in_text->sent_ns == 77);
    auto in_json = parse_bench_data(R"({"text":"bench 9 88","at":1})");
    REQUIRE(in_json);
    CHECK(in_json->seq == 9);
    CHECK(in_json->sent_ns == 88);
  }

  SECTION("skips a partial payload and takes the next whole one") {
    auto payload = parse_bench_data("bench x bench 5 bench 6 66");
    REQUIRE(payload);
    CHECK(payload->seq == 6);
    CHECK(payload->sent_ns == 66);
  }

  SECTION("rejects data without a whole payload") {
    CHECK_FALSE(parse_bench_data("hello"));
    CHECK_FALSE(parse_bench_data("bench 1"));
    CHECK_FALSE(parse_bench_data("bench 1 "));
    CHECK_FALSE(parse_bench_data("bench -1 5"));
    CHECK_FALSE(parse_bench_data("bench 1 2.5"));
  }
}

TEST_CASE("load::expand_publish_body") {
  using livechat::client::bench::expand_publish_body;
  using livechat::client::bench::publish_content_type;

  SECTION("the default template is the bare payload") {
    CHECK(expand_publish_body(livechat::client::bench::k_default_publish_body, "bench 1 2") ==
          "bench 1 2");
  }

  SECTION("replaces every {content} and keeps the rest") {
    CHECK(expand_publish_body(R"({"content":"{content}","room":"r"})", "bench 1 2") ==
          R"({"content":"bench 1 2","room":"r"})");
    CHECK(expand_publish_body("{content}|{content}", "a") == "a|a");
    CHECK(expand_publish_body("{contents} {content", "a") == "{contents} {content");
  }

  SECTION("a template without {content} is sent as it is") {
    CHECK(expand_publish_body("fixed", "bench 1 2") == "fixed");
    CHECK(expand_publish_body("", "bench 1 2").empty());
  }

  SECTION("JSON-looking bodies are sent as JSON, the rest as text") {
    CHECK(publish_content_type(R"({"content":"x"})") == "application/json");
    CHECK(publish_content_type(" [1]") == "application/json");
    CHECK(publish_content_type("bench 1 2") == "text/plain");
    CHECK(publish_content_type("") == "text/plain");
  }
}

TEST_CASE("stream_pool::ResponseDecoder") {
  const std::string body =
      chunked({k_events.substr(0, 30), k_events.substr(30, 77), k_events.substr(107)});
  const std::string response = k_head + body;
  const Decoded whole = decode({response});

  SECTION("decodes a chunked event stream to its end") {
    REQUIRE(whole.events.size() == 3);
    CHECK(whole.events[0].type == "connected");
    CHECK(whole.events[1].id == "20240101120000.000001");
    CHECK(whole.events[2].data == "{\"content\":\"bench 1 6\"}");
    CHECK(whole.state == ResponseDecoder::State::ended);
    CHECK(whole.last_id == "20240101120000.000002");
  }

  SECTION("gives the same events whatever the split point") {
    for (std::size_t at = 0; at <= response.size(); ++at) {
      auto split = decode({response.substr(0, at), response.substr(at)});
      INFO("split at " << at);
      CHECK(same_events(split.events, whole.events));
      CHECK(split.state == ResponseDecoder::State::ended);
    }
  }

  SECTION("gives the same events fed a byte at a time") {
    std::vector<std::string> bytes;
    for (char c : response) {
      bytes.emplace_back(1, c);
    }
    auto split = decode(bytes);
    CHECK(same_events(split.events, whole.events));
    CHECK(split.state == ResponseDecoder::State::ended);
  }

  SECTION("an error status fails with that status and no events") {
    ResponseDecoder decoder;
    std::size_t events = 0;
    auto state = decoder.feed("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 2\r\n\r\n{}",
                              [&](const Event&) { ++events; });
    CHECK(state == ResponseDecoder::State::failed);
    CHECK(decoder.status() == 503);
    CHECK(events == 0);
  }

  SECTION("a body without chunks runs until the connection ends") {
    auto plain = decode({"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n", k_events});
    CHECK(same_events(plain.events, whole.events));
    CHECK(plain.state == ResponseDecoder::State::body);
  }

  SECTION("a sized body ends after its length") {
    auto sized = decode({"HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(k_events.size()) +
                         "\r\n\r\n" + k_events});
    CHECK(same_events(sized.events, whole.events));
    CHECK(sized.state == ResponseDecoder::State::ended);
  }

  SECTION("a bad chunk size or a reply that is not HTTP fails") {
    CHECK(decode({k_head + "zz\r\n"}).state == ResponseDecoder::State::failed);
    CHECK(decode({k_head + "3\r\nabcdef\r\n"}).state == ResponseDecoder::State::failed);
    CHECK(decode({"SSH-2.0-OpenSSH\r\n"}).state == ResponseDecoder::State::failed);
  }

  SECTION("a line past the bound fails, however the bytes are split") {
    const std::string head =
        "HTTP/1.1 200 OK\r\nX-Padding: " + std::string(ResponseDecoder::k_max_head_bytes, 'x') +
        "\r\n\r\n";
    CHECK(decode({head}).state == ResponseDecoder::State::failed);
    CHECK(decode({head.substr(0, 100), head.substr(100)}).state == ResponseDecoder::State::failed);
    CHECK(decode({head.substr(0, head.size() - 10), head.substr(head.size() - 10)}).state ==
          ResponseDecoder::State::failed);
    const std::string chunk_size =
        k_head + std::string(ResponseDecoder::k_max_head_bytes, '0') + "1\r\nx\r\n";
    CHECK(decode({chunk_size}).state == ResponseDecoder::State::failed);
  }

  SECTION("restart reads a new response and keeps the last event id") {
    ResponseDecoder decoder;
    decoder.feed(response, [](const Event&) {});
    decoder.restart();
    CHECK(decoder.state() == ResponseDecoder::State::head);
    CHECK(decoder.status() == 0);
    CHECK(decoder.parser().last_event_id() == "20240101120000.000002");
    std::vector<Event> again;
    decoder.feed(response, [&](const Event& e) { again.push_back(e); });
    REQUIRE(again.size() == 3);
    CHECK(again[0].id == "20240101120000.000002");  // no id: field yet, so the kept one
    CHECK(again[2].data == whole.events[2].data);
  }
}
