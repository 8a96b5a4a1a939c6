#include <catch2/catch.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "wire/sse.hpp"

namespace livechat::wire::sse {
namespace {

// Renders an event as one string, so mismatches print readably.
std::string describe(const Event& event) {
  return "id=[" + event.id + "] type=[" + event.type + "] data=[" + event.data + "]";
}

std::vector<std::string> describe_all(const std::vector<Event>& events) {
  std::vector<std::string> out;
  for (const auto& event : events) {
    out.push_back(describe(event));
  }
  return out;
}

// Feeds each chunk in order, requiring every feed to succeed, and returns what was dispatched.
std::vector<std::string> feed_chunks(Parser& parser, const std::vector<std::string_view>& chunks) {
  std::vector<Event> events;
  for (auto chunk : chunks) {
    REQUIRE(parser.feed(chunk, [&](const Event& event) { events.push_back(event); }));
  }
  return describe_all(events);
}

std::vector<std::string> parse(std::string_view stream) {
  Parser parser;
  return feed_chunks(parser, {stream});
}

std::string with_line_endings(std::string_view text, std::string_view ending) {
  std::string out;
  for (char c : text) {
    if (c == '\n') {
      out.append(ending);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

TEST_CASE("sse::encode_event") {
  SECTION("writes id, event and data lines and ends with a blank line") {
    CHECK(encode_event("7", "join", "hi") == "id: 7\nevent: join\ndata: hi\n\n");
  }
  SECTION("leaves out empty id and type") {
    CHECK(encode_event("", "", "hi") == "data: hi\n\n");
    CHECK(encode_event("3", "", "hi") == "id: 3\ndata: hi\n\n");
  }
  SECTION("turns every line of the data into its own data line") {
    const std::string expected = "data: a\ndata: b\n\n";
    CHECK(encode_event("", "", "a\nb") == expected);
    CHECK(encode_event("", "", "a\r\nb") == expected);
    CHECK(encode_event("", "", "a\rb") == expected);
    CHECK(encode_event("", "", "a\r\nb\rc\nd") == "data: a\ndata: b\ndata: c\ndata: d\n\n");
  }
  SECTION("keeps empty lines of the data") {
    CHECK(encode_event("", "", "a\n\nb") == "data: a\ndata: \ndata: b\n\n");
    CHECK(encode_event("", "", "a\n") == "data: a\ndata: \n\n");
  }
  SECTION("writes a data line for empty data, so the event is still dispatched") {
    CHECK(encode_event("", "", "") == "data: \n\n");
    CHECK(parse(encode_event("", "", "")) ==
          std::vector<std::string>{"id=[] type=[message] data=[]"});
  }
}

TEST_CASE("sse::encode_comment and encode_retry") {
  SECTION("a comment is a colon line") {
    CHECK(encode_comment("ping") == ": ping\n\n");
    CHECK(encode_comment("a\r\nb") == ": a\n: b\n\n");
  }
  SECTION("retry carries the delay in milliseconds") {
    CHECK(encode_retry(3000) == "retry: 3000\n\n");
    Parser parser;
    CHECK(feed_chunks(parser, {encode_retry(2500)}).empty());
    CHECK(parser.retry_ms() == 2500L);
  }
}

TEST_CASE("sse::Parser") {
  SECTION("accepts LF, CRLF and CR line endings, also mixed") {
    const std::vector<std::string> one{"id=[] type=[message] data=[a]"};
    CHECK(parse("data: a\n\n") == one);
    CHECK(parse("data: a\r\n\r\n") == one);
    CHECK(parse("data: a\r\r") == one);
    CHECK(parse("data: a\rdata: b\r\ndata: c\n\r\n") ==
          std::vector<std::string>{"id=[] type=[message] data=[a\nb\nc]"});
  }
  SECTION("a CRLF split across two feeds is one line ending") {
    Parser parser;
    CHECK(feed_chunks(parser, {"data: a\r", "\ndata: b\r", "", "\n\r", "\n"}) ==
          std::vector<std::string>{"id=[] type=[message] data=[a\nb]"});
  }
  SECTION("counts comments and does not dispatch them") {
    Parser parser;
    CHECK(feed_chunks(parser, {": ping\n\n:\n"}).empty());
    CHECK(parser.comments() == 2);
    CHECK(feed_chunks(parser, {"data: a\n: between\ndata: b\n\n"}) ==
          std::vector<std::string>{"id=[] type=[message] data=[a\nb]"});
    CHECK(parser.comments() == 3);
  }
  SECTION("removes one space after the colon, if there is one") {
    CHECK(parse("data:x\n\n") == std::vector<std::string>{"id=[] type=[message] data=[x]"});
    CHECK(parse("data:  x\n\n") == std::vector<std::string>{"id=[] type=[message] data=[ x]"});
    CHECK(parse("data: :x\n\n") == std::vector<std::string>{"id=[] type=[message] data=[:x]"});
  }
  SECTION("joins data lines with LF") {
    CHECK(parse("data: a\ndata:\ndata: c\n\n") ==
          std::vector<std::string>{"id=[] type=[message] data=[a\n\nc]"});
  }
  SECTION("does not dispatch an event without data, and forgets its type") {
    CHECK(parse("event: join\n\n").empty());
    CHECK(parse("event: join\n\ndata: x\n\n") ==
          std::vector<std::string>{"id=[] type=[message] data=[x]"});
  }
  SECTION("event: names the type of one event only") {
    CHECK(parse("event: join\ndata: a\n\ndata: b\n\nevent:\ndata: c\n\n") ==
          std::vector<std::string>{"id=[] type=[join] data=[a]", "id=[] type=[message] data=[b]",
                                   "id=[] type=[message] data=[c]"});
  }
  SECTION("id: persists across later events until the next id") {
    Parser parser;
    CHECK(feed_chunks(parser, {"id: 1\ndata: a\n\ndata: b\n\nid: 2\n\ndata: c\n\n"}) ==
          std::vector<std::string>{"id=[1] type=[message] data=[a]",
                                   "id=[1] type=[message] data=[b]",
                                   "id=[2] type=[message] data=[c]"});
    CHECK(parser.last_event_id() == "2");
    CHECK(feed_chunks(parser, {"id\ndata: d\n\n"}) ==
          std::vector<std::string>{"id=[] type=[message] data=[d]"});
    CHECK(parser.last_event_id().empty());
  }
  SECTION("ignores an id that contains NUL") {
    Parser parser;
    const std::string stream("id: 1\n\nid: a\0b\ndata: x\n\n", 24);
    CHECK(feed_chunks(parser, {stream}) ==
          std::vector<std::string>{"id=[1] type=[message] data=[x]"});
    CHECK(parser.last_event_id() == "1");
  }
  SECTION("takes retry: only when it is all digits") {
    Parser parser;
    CHECK(feed_chunks(parser, {"retry: 1500\n"}).empty());
    CHECK(parser.retry_ms() == 1500L);
    CHECK(
        feed_chunks(parser, {"retry: 12a\nretry: -1\nretry:\nretry: 9 \nretry: 1.5\n\n"}).empty());
    CHECK(parser.retry_ms() == 1500L);
    CHECK_FALSE(Parser{}.retry_ms().has_value());
  }
  SECTION("ignores unknown fields; field names are case-sensitive") {
    CHECK(parse("foo: bar\ndata: x\nData: y\nEVENT: z\n\n") ==
          std::vector<std::string>{"id=[] type=[message] data=[x]"});
  }
  SECTION("a field line without a colon has an empty value") {
    CHECK(parse("data\n\n") == std::vector<std::string>{"id=[] type=[message] data=[]"});
    CHECK(parse("data\ndata\n\n") == std::vector<std::string>{"id=[] type=[message] data=[\n]"});
    CHECK(parse("event\ndata: x\n\n") == std::vector<std::string>{"id=[] type=[message] data=[x]"});
  }
  SECTION("skips one leading byte order mark, also when it arrives byte by byte") {
    const std::string bom = "\xEF\xBB\xBF";
    const std::vector<std::string> one{"id=[] type=[message] data=[x]"};
    CHECK(parse(bom + "data: x\n\n") == one);
    Parser parser;
    CHECK(feed_chunks(parser, {"\xEF", "\xBB", "\xBF", "d", "ata: x\n", "\n"}) == one);
    CHECK(parse(bom + bom + "data: x\n\n").empty());
    CHECK(parse("data: a\n\n" + bom + "data: b\n\n") ==
          std::vector<std::string>{"id=[] type=[message] data=[a]"});
  }
  SECTION("keeps the bytes of a partial byte order mark as text") {
    Parser parser;
    CHECK(feed_chunks(parser, {"\xEF\xBB", ": not a comment\n\n"}).empty());
    CHECK(parser.comments() == 0);
  }
  SECTION("reset_partial() drops a half-received event and keeps the last event id") {
    Parser parser;
    CHECK(feed_chunks(parser, {"id: 1\ndata: a\n\n", "event: edit\ndata: half\ndata: li"}) ==
          std::vector<std::string>{"id=[1] type=[message] data=[a]"});
    parser.reset_partial();
    CHECK(parser.last_event_id() == "1");
    CHECK(feed_chunks(parser, {"data: b\n\n"}) ==
          std::vector<std::string>{"id=[1] type=[message] data=[b]"});
  }
  SECTION("reset_partial() does not keep the id of an event that was never dispatched") {
    Parser parser;
    CHECK(feed_chunks(parser, {"id: 1\ndata: a\n\nid: 2\ndata: half\n"}).size() == 1);
    parser.reset_partial();
    CHECK(parser.last_event_id() == "1");
  }
}

TEST_CASE("sse::Parser line length bound") {
  const std::size_t limit = Parser::k_max_line_bytes;
  std::vector<Event> events;
  auto collect = [&](const Event& event) { events.push_back(event); };
  Parser parser;

  SECTION("a partial line of exactly the bound is accepted") {
    CHECK(parser.feed(std::string(limit, 'a'), collect));
  }
  SECTION("a partial line past the bound breaks the stream, and the parser starts over") {
    CHECK(parser.feed(std::string(limit, 'a'), collect));
    CHECK_FALSE(parser.feed("a", collect));
    CHECK(parser.feed("\ndata: ok\n\n", collect));
    REQUIRE(events.size() == 1);
    CHECK(events[0].data == "ok");
  }
  SECTION("data gathered past the bound over many lines breaks the stream") {
    const std::string line = "data: " + std::string(1024 * 1024, 'x') + "\n";
    bool ok = true;
    for (int i = 0; i < 9 && ok; ++i) {
      ok = parser.feed(line, collect);
    }
    CHECK_FALSE(ok);
    CHECK(parser.feed("\n", collect));
    CHECK(events.empty());
  }
  SECTION("an over-long line breaks the stream also when it arrives whole in one chunk") {
    CHECK_FALSE(parser.feed("data: " + std::string(limit + 1, 'x') + "\n\n", collect));
    CHECK(events.empty());
  }
}

TEST_CASE("sse round trip") {
  std::string stream = encode_retry(2500);
  stream += encode_event("1", "", "hello");
  stream += encode_comment("ping");
  stream += encode_event("", "join", "ann\nbob\n\nend");
  stream += encode_event("3", "message", "");
  stream += encode_event("4", "edit", "x: y\r\nz\rw");
  stream += encode_comment("two\nlines");
  stream += encode_event("", "", "  spaced  ");
  stream += encode_event("\xC3\xBC", "", ":not a comment\n\xE4\xB8\xAD \xF0\x9F\x98\x80");
  const std::vector<std::string> expected{
      "id=[1] type=[message] data=[hello]",
      "id=[1] type=[join] data=[ann\nbob\n\nend]",
      "id=[3] type=[message] data=[]",
      "id=[4] type=[edit] data=[x: y\nz\nw]",
      "id=[4] type=[message] data=[  spaced  ]",
      "id=[\xC3\xBC] type=[message] data=[:not a comment\n\xE4\xB8\xAD \xF0\x9F\x98\x80]",
  };

  auto check_stream = [&](const std::string& text) {
    const std::string_view view = text;
    for (std::size_t split = 0; split <= view.size(); ++split) {
      INFO("split at byte " << split);
      Parser parser;
      REQUIRE(feed_chunks(parser, {view.substr(0, split), view.substr(split)}) == expected);
      REQUIRE(parser.comments() == 3);
      REQUIRE(parser.retry_ms() == 2500L);
      REQUIRE(parser.last_event_id() == "\xC3\xBC");
    }
    Parser parser;
    std::vector<std::string_view> bytes;
    for (std::size_t i = 0; i < view.size(); ++i) {
      bytes.push_back(view.substr(i, 1));
    }
    CHECK(feed_chunks(parser, bytes) == expected);
    CHECK(parser.comments() == 3);
  };

  SECTION("with LF line endings, as encoded") { check_stream(stream); }
  SECTION("with CRLF line endings") { check_stream(with_line_endings(stream, "\r\n")); }
  SECTION("with CR line endings") { check_stream(with_line_endings(stream, "\r")); }
  SECTION("with a byte order mark and CRLF line endings") {
    check_stream(std::string("\xEF\xBB\xBF") + with_line_endings(stream, "\r\n"));
  }
}

}  // namespace livechat::wire::sse
