#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "wire/errors.hpp"
#include "wire/message.hpp"

namespace livechat::wire {
namespace {

// Returns the error kind parse_draft gives `body`, requiring it to fail with a message.
ApiErrorKind draft_error(std::string_view body, const Limits& limits = {}) {
  auto result = parse_draft(body, limits);
  REQUIRE_FALSE(result.ok());
  CHECK_FALSE(result.error().message.empty());
  return result.error().kind;
}

ApiErrorKind notify_error(std::string_view body) {
  auto result = parse_notifications(body, Limits{});
  REQUIRE_FALSE(result.ok());
  CHECK_FALSE(result.error().message.empty());
  return result.error().kind;
}

std::string nested(std::size_t depth, std::string_view open, std::string_view inner,
                   std::string_view close) {
  std::string out;
  out.reserve(depth * (open.size() + close.size()) + inner.size());
  for (std::size_t i = 0; i < depth; ++i) {
    out.append(open);
  }
  out.append(inner);
  for (std::size_t i = 0; i < depth; ++i) {
    out.append(close);
  }
  return out;
}

std::string draft_with_content(std::string_view content) {
  return "{\"content\":\"" + std::string(content) + "\"}";
}

const Message k_message{"20240101120000.123456", "hi \"there\"\nline two", "ann", "ops",
                        "2024-01-01T12:00:00.123456Z"};

}  // namespace

TEST_CASE("message::parse_draft") {
  SECTION("accepts a good draft and fills in the defaults") {
    auto full =
        parse_draft(R"({"content":"hi","user":"ann","room":"ops","extra":[1,{"x":2}]})", Limits{});
    REQUIRE(full.ok());
    CHECK(full->content == "hi");
    CHECK(full->user == "ann");
    CHECK(full->room == "ops");
    for (auto body : {R"({"content":"hi"})", R"({"content":"hi","user":null,"room":null})"}) {
      auto draft = parse_draft(body, Limits{});
      REQUIRE(draft.ok());
      CHECK(draft->user == "anonymous");
      CHECK(draft->room == "general");
    }
  }
  SECTION("rejects bodies that are not JSON objects") {
    CHECK(draft_error("{\"content\":") == ApiErrorKind::bad_json);
    CHECK(draft_error("") == ApiErrorKind::bad_json);
    CHECK(draft_error(R"({"content":"\ud800"})") == ApiErrorKind::bad_json);
    CHECK(draft_error(R"([{"content":"hi"}])") == ApiErrorKind::bad_request);
    CHECK(draft_error("42") == ApiErrorKind::bad_request);
    CHECK(draft_error(R"("hi")") == ApiErrorKind::bad_request);
  }
  SECTION("rejects missing, empty, blank and non-string content") {
    for (auto body : {R"({})", R"({"content":null})", R"({"content":""})",
                      R"({"content":"  \n\t"})", R"({"content":42})", R"({"content":["hi"]})",
                      R"({"content":{"text":"hi"}})", R"({"content":true})"}) {
      INFO(body);
      CHECK(draft_error(body) == ApiErrorKind::bad_content);
    }
  }
  SECTION("bounds the user name and requires a string") {
    const std::string at_limit(128, 'u');
    auto ok = parse_draft(R"({"content":"hi","user":")" + at_limit + "\"}", Limits{});
    REQUIRE(ok.ok());
    CHECK(ok->user == at_limit);
    CHECK(draft_error(R"({"content":"hi","user":")" + at_limit + "u\"}") == ApiErrorKind::bad_user);
    CHECK(draft_error(R"({"content":"hi","user":7})") == ApiErrorKind::bad_user);
    CHECK(draft_error(R"({"content":"hi","user":["ann"]})") == ApiErrorKind::bad_user);
  }
  SECTION("requires a valid room name when one is given") {
    const std::string at_limit(64, 'r');
    auto ok = parse_draft(R"({"content":"hi","room":")" + at_limit + "\"}", Limits{});
    REQUIRE(ok.ok());
    CHECK(ok->room == at_limit);
    const std::vector<std::string> bad_rooms{"\"a room\"", "\"\"", "\"" + at_limit + "r\"", "5",
                                             "{}"};
    for (const auto& room : bad_rooms) {
      INFO(room);
      CHECK(draft_error(R"({"content":"hi","room":)" + room + "}") == ApiErrorKind::bad_room);
    }
  }
  SECTION("rejects a NUL byte, which would hide the rest of the body from the JSON parser") {
    using namespace std::string_view_literals;
    CHECK(draft_error("{\"content\":\"hi\"}\0{"sv) == ApiErrorKind::bad_json);
    CHECK(draft_error("{\"content\":\"hi\0\"}"sv) == ApiErrorKind::bad_json);
    auto escaped = parse_draft(R"({"content":"a\u0000b"})", Limits{});
    REQUIRE(escaped.ok());
    CHECK(escaped->content == std::string("a\0b", 3));
  }
  SECTION("rejects deep nesting as bad_json without recursing") {
    CHECK(draft_error(nested(100'000, "[", "", "]")) == ApiErrorKind::bad_json);
    CHECK(draft_error(nested(100'000, "{\"a\":", "1", "}")) == ApiErrorKind::bad_json);
    CHECK(draft_error(nested(100'000, "[", "", "")) == ApiErrorKind::bad_json);
    const auto at_limit = R"({"content":"hi","x":)" + nested(31, "[", "", "]") + "}";
    CHECK(parse_draft(at_limit, Limits{}).ok());
    const auto past_limit = R"({"content":"hi","x":)" + nested(32, "[", "", "]") + "}";
    CHECK(draft_error(past_limit) == ApiErrorKind::bad_json);
  }
  SECTION("rejects invalid UTF-8 and accepts multi-byte text") {
    for (std::string_view bad : {"\x80", "\xC0\xAF", "\xE0\x80\xAF", "\xED\xA0\x80",
                                 "\xF4\x90\x80\x80", "\xE4\xB8", "\xF0\x9F\x98", "\xFF"}) {
      INFO("bytes: " << bad.size());
      CHECK_FALSE(is_valid_utf8(bad));
      CHECK(draft_error(draft_with_content(bad)) == ApiErrorKind::bad_json);
    }
    CHECK_FALSE(is_valid_utf8("ok\xE4\xB8!"));
    const std::string text = "caf\xC3\xA9 \xE4\xB8\xAD \xF0\x9F\x98\x80 \xF4\x8F\xBF\xBF";
    CHECK(is_valid_utf8(text));
    auto draft = parse_draft(draft_with_content(text), Limits{});
    REQUIRE(draft.ok());
    CHECK(draft->content == text);
  }
  SECTION("content past the byte limit is too_large") {
    Limits limits;
    limits.max_content_bytes = 8;
    CHECK(parse_draft(draft_with_content("12345678"), limits).ok());
    CHECK(draft_error(draft_with_content("123456789"), limits) == ApiErrorKind::too_large);
    CHECK(draft_error(draft_with_content("\xE4\xB8\xAD\xE4\xB8\xAD\xE4\xB8\xAD"), limits) ==
          ApiErrorKind::too_large);
  }
}

TEST_CASE("errors::http_status and code_word") {
  const std::vector<std::tuple<ApiErrorKind, int, std::string_view>> table{
      {ApiErrorKind::bad_json, 400, "bad_json"},
      {ApiErrorKind::bad_request, 400, "bad_request"},
      {ApiErrorKind::bad_content, 400, "bad_content"},
      {ApiErrorKind::bad_user, 400, "bad_user"},
      {ApiErrorKind::bad_room, 400, "bad_room"},
      {ApiErrorKind::bad_id, 400, "bad_id"},
      {ApiErrorKind::too_large, 413, "too_large"},
      {ApiErrorKind::not_found, 404, "not_found"},
      {ApiErrorKind::method_not_allowed, 405, "method_not_allowed"},
      {ApiErrorKind::too_many_clients, 503, "too_many_clients"},
      {ApiErrorKind::unavailable, 503, "unavailable"},
      {ApiErrorKind::internal, 500, "internal"},
  };
  for (const auto& [kind, status, word] : table) {
    INFO(word);
    CHECK(http_status(kind) == status);
    CHECK(code_word(kind) == word);
  }
  SECTION("render_error is a JSON object with error and code") {
    auto body = nlohmann::json::parse(render_error({ApiErrorKind::bad_room, "no \"x\"\nroom"}));
    CHECK(body.size() == 2);
    CHECK(body["error"].get<std::string>() == "no \"x\"\nroom");
    CHECK(body["code"].get<std::string>() == "bad_room");
    CHECK_NOTHROW(nlohmann::json::parse(render_error({ApiErrorKind::internal, "bad \xFF byte"})));
  }
  SECTION("parse_error_body reads what render_error writes, and nothing else") {
    auto body = parse_error_body(render_error({ApiErrorKind::bad_room, "no \"x\"\nroom"}));
    REQUIRE(body);
    CHECK(body->message == "no \"x\"\nroom");
    CHECK(body->code == "bad_room");
    auto no_code = parse_error_body(R"({"error":"down","code":503})");
    REQUIRE(no_code);
    CHECK(no_code->message == "down");
    CHECK(no_code->code.empty());
    for (std::string_view other :
         {"", "Bad Gateway", "[]", R"({"code":"x"})", R"({"error":1})", R"({"error":"a"} x)"}) {
      INFO(other);
      CHECK_FALSE(parse_error_body(other));
    }
    using namespace std::string_view_literals;
    CHECK_FALSE(parse_error_body("{\"error\":\"a\"}\0x"sv));
  }
  SECTION("error_for_status maps bare statuses") {
    CHECK(error_for_status(404).kind == ApiErrorKind::not_found);
    CHECK(error_for_status(405).kind == ApiErrorKind::method_not_allowed);
    CHECK(error_for_status(413).kind == ApiErrorKind::too_large);
    CHECK(error_for_status(414).kind == ApiErrorKind::uri_too_long);
    CHECK(http_status(ApiErrorKind::uri_too_long) == 414);
    CHECK(http_status(ApiErrorKind::request_timeout) == 408);
    CHECK(http_status(ApiErrorKind::headers_too_large) == 431);
    CHECK(error_for_status(503).kind == ApiErrorKind::unavailable);
    CHECK(error_for_status(500).kind == ApiErrorKind::internal);
    CHECK(error_for_status(400).kind == ApiErrorKind::bad_request);
    CHECK_FALSE(error_for_status(413).message.empty());
  }
}

TEST_CASE("message::parse_notifications") {
  SECTION("takes one object, with defaults for user and room") {
    auto one = parse_notifications(R"({"id":"1","content":"hi"})", Limits{});
    REQUIRE(one.ok());
    REQUIRE(one->size() == 1);
    CHECK((*one)[0] == Message{"1", "hi", "anonymous", "general", ""});
  }
  SECTION("takes an array and keeps its order") {
    auto many = parse_notifications(
        R"([{"id":"2","content":"b","room":"ops"},{"id":"1","content":"a","user":"ann"}])",
        Limits{});
    REQUIRE(many.ok());
    REQUIRE(many->size() == 2);
    CHECK((*many)[0].id == "2");
    CHECK((*many)[0].room == "ops");
    CHECK((*many)[1].id == "1");
    CHECK((*many)[1].user == "ann");
  }
  SECTION("rejects a NUL byte outside a string") {
    using namespace std::string_view_literals;
    CHECK(notify_error("{\"id\":\"1\"}\0]"sv) == ApiErrorKind::bad_json);
    CHECK_FALSE(parse_message_json("{\"id\":\"1\"}\0x"sv).ok());
  }
  SECTION("rejects bad items") {
    CHECK(notify_error(R"({"id":"","content":"hi"})") == ApiErrorKind::bad_id);
    CHECK(notify_error(R"({"content":"hi"})") == ApiErrorKind::bad_id);
    CHECK(notify_error(R"({"id":5,"content":"hi"})") == ApiErrorKind::bad_id);
    CHECK(notify_error(R"([{"id":"1","content":"hi"},"x"])") == ApiErrorKind::bad_request);
    CHECK(notify_error(R"({"id":"1","content":"hi","room":"a b"})") == ApiErrorKind::bad_room);
    CHECK(notify_error(R"({"id":"1","content":3})") == ApiErrorKind::bad_content);
    CHECK(notify_error("[") == ApiErrorKind::bad_json);
    CHECK(notify_error(nested(100'000, "[", "", "]")) == ApiErrorKind::bad_json);
  }
}

TEST_CASE("message::json rendering") {
  SECTION("a message's JSON is byte for byte what nlohmann::json writes") {
    // Every control character, quotes and backslashes, DEL, multi-byte UTF-8, and text that
    // is not UTF-8 (replaced, as nlohmann does).
    std::vector<std::string> texts = {"",
                                      "plain",
                                      "a \"quoted\" \\ path/to",
                                      "\x7f del",
                                      "\xE4\xB8\xAD \xF0\x9F\x98\x80 emoji",
                                      "\xC3\x28 broken",
                                      "tail\xE4\xB8"};
    std::string controls;
    for (int c = 0; c < 0x20; ++c) {
      controls += static_cast<char>(c);
    }
    texts.push_back(controls + "after");
    for (const auto& text : texts) {
      Message m = k_message;
      m.content = text;
      m.user = text.empty() ? "u" : text;
      const nlohmann::ordered_json stored = {
          {"id", m.id},     {"content", m.content},     {"user", m.user},
          {"room", m.room}, {"timestamp", m.timestamp}, {"status", "sent"}};
      const nlohmann::ordered_json notification = {
          {"id", m.id},     {"content", m.content},     {"user", m.user},
          {"room", m.room}, {"timestamp", m.timestamp}, {"type", "message"}};
      const auto replace = nlohmann::json::error_handler_t::replace;
      CHECK(stored_json(m) == stored.dump(-1, ' ', false, replace));
      CHECK(notification_json(m) == notification.dump(-1, ' ', false, replace));
      CHECK(notification_array_json({m, m}) ==
            nlohmann::ordered_json::array({notification, notification})
                .dump(-1, ' ', false, replace));
    }
  }

  SECTION("stored_json says sent and round-trips") {
    const auto text = stored_json(k_message);
    CHECK(text.find("\"status\":\"sent\"") != std::string::npos);
    auto parsed = parse_message_json(text);
    REQUIRE(parsed.ok());
    CHECK(*parsed == k_message);
  }
  SECTION("notification_json is one line of type message and round-trips") {
    const auto text = notification_json(k_message);
    CHECK(text.find("\"type\":\"message\"") != std::string::npos);
    CHECK(text.find('\n') == std::string::npos);
    CHECK(text.find('\r') == std::string::npos);
    auto parsed = parse_message_json(text);
    REQUIRE(parsed.ok());
    CHECK(*parsed == k_message);
  }
  SECTION("notification_array_json round-trips through parse_notifications") {
    Message second = k_message;
    second.id = "20240101120000.123457";
    second.content = "\xE4\xB8\xAD";
    const std::vector<Message> messages{k_message, second};
    auto parsed = parse_notifications(notification_array_json(messages), Limits{});
    REQUIRE(parsed.ok());
    CHECK(*parsed == messages);
    CHECK(notification_array_json({}) == "[]");
  }
  SECTION("stored_array_json is the history answer and round-trips through parse_stored_messages") {
    Message second = k_message;
    second.id = "20240101120000.123457";
    second.room = "ops";
    const std::vector<Message> messages{k_message, second};
    const auto text = stored_array_json(messages);
    CHECK(text == "[" + stored_json(k_message) + "," + stored_json(second) + "]");
    auto parsed = parse_stored_messages(text);
    REQUIRE(parsed.ok());
    CHECK(*parsed == messages);
    CHECK(stored_array_json({}) == "[]");
    CHECK(parse_stored_messages("[]")->empty());
  }
  SECTION("parse_stored_messages takes an array of messages only") {
    CHECK_FALSE(parse_stored_messages(stored_json(k_message)).ok());
    CHECK_FALSE(parse_stored_messages(R"([{"id":"1"},{"content":"no id"}])").ok());
    CHECK_FALSE(parse_stored_messages(nested(100'000, "[", "", "]")).ok());
    CHECK_FALSE(parse_stored_messages(R"({"error":"no","code":"unauthorized"})").ok());
  }
  SECTION("invalid UTF-8 in a message still renders as valid JSON") {
    Message broken = k_message;
    broken.content = "bad \xFF byte";
    const auto text = notification_json(broken);
    CHECK(is_valid_utf8(text));
    CHECK(parse_message_json(text).ok());
  }
}

TEST_CASE("message::rooms") {
  SECTION("is_valid_room") {
    CHECK(is_valid_room("general"));
    CHECK(is_valid_room("A-z_0.9"));
    CHECK(is_valid_room(std::string(64, 'r')));
    CHECK_FALSE(is_valid_room(std::string(65, 'r')));
    CHECK_FALSE(is_valid_room(""));
    CHECK_FALSE(is_valid_room("a b"));
    CHECK_FALSE(is_valid_room("a/b"));
    CHECK_FALSE(is_valid_room("caf\xC3\xA9"));
  }
  SECTION("parse_room_list") {
    auto two = parse_room_list("a,b");
    REQUIRE(two.ok());
    CHECK(*two == std::vector<std::string>{"a", "b"});
    auto deduped = parse_room_list("ops,a,ops,a");
    REQUIRE(deduped.ok());
    CHECK(*deduped == std::vector<std::string>{"ops", "a"});
    auto all = parse_room_list("");
    REQUIRE(all.ok());
    CHECK(all->empty());
    for (auto bad : {"a,,b", "a,", ",a", ",", "bad room", "a,b c"}) {
      INFO(bad);
      auto result = parse_room_list(bad);
      REQUIRE_FALSE(result.ok());
      CHECK(result.error().kind == ApiErrorKind::bad_room);
      CHECK_FALSE(result.error().message.empty());
    }
  }
}

TEST_CASE("message::json_depth") {
  CHECK(json_depth("") == 0);
  CHECK(json_depth("42") == 0);
  CHECK(json_depth("[]") == 1);
  CHECK(json_depth("[][]") == 1);
  CHECK(json_depth(R"({"a":[{"b":[]}]})") == 4);
  CHECK(json_depth(R"("[[[{{{")") == 0);
  CHECK(json_depth(R"({"a":"\"[[[{"})") == 1);
  CHECK(json_depth(R"({"a":"\\","b":[[1]]})") == 3);
  CHECK(json_depth(R"(["]]]]",[["x"]]])") == 3);
}

TEST_CASE("message::chat events") {
  Message edit;
  edit.id = "20240101120000.000002";
  edit.kind = EventKind::edit;
  edit.message_id = "20240101120000.000001";
  edit.user = "ann";
  edit.room = "general";
  edit.content = "fixed \"it\"";
  edit.timestamp = "2024-01-01T12:00:00.000002Z";
  Message reaction = edit;
  reaction.kind = EventKind::reaction;
  reaction.content.clear();
  reaction.emoji = "👍";
  reaction.removed = true;
  Message deletion = edit;
  deletion.kind = EventKind::deletion;
  deletion.content.clear();

  SECTION("each renders as its notification and reads back the same") {
    CHECK(notification_json(edit) ==
          R"({"type":"edit","id":"20240101120000.000002","message_id":"20240101120000.000001",)"
          R"("room":"general","user":"ann","content":"fixed \"it\"",)"
          R"("timestamp":"2024-01-01T12:00:00.000002Z"})");
    for (const auto& event : {edit, reaction, deletion}) {
      auto parsed = parse_notifications(notification_array_json({event}), Limits{});
      REQUIRE(parsed);
      REQUIRE(parsed->size() == 1);
      CHECK(parsed->front() == event);
    }
    CHECK(nlohmann::json::parse(notification_json(reaction))["action"] == "remove");
    CHECK(nlohmann::json::parse(notification_json(deletion)).count("content") == 0);
  }

  SECTION("a message's state renders after its fields and reads back") {
    Message m{"20240101120000.000001", "hi", "ann", "general", "2024-01-01T12:00:00.000001Z"};
    m.edited = "2024-01-01T12:00:00.000002Z";
    m.reactions = {{"👍", {"bob", "ann"}}, {"🎉", {"cat"}}};
    auto text = stored_json(m);
    CHECK(text.find(R"("status":"sent","edited":"2024-01-01T12:00:00.000002Z",)"
                    R"("reactions":{"👍":["bob","ann"],"🎉":["cat"]}})") != std::string::npos);
    auto back = parse_message_json(text);
    REQUIRE(back);
    CHECK(back->edited == m.edited);
    CHECK(back->reactions.size() == 2);  // nlohmann orders an object's keys; users keep theirs
  }

  SECTION("a notification of an unknown type, or a change without its message, is refused") {
    CHECK(parse_notifications(R"({"id":"1","type":"poke"})", Limits{}).error().kind ==
          ApiErrorKind::bad_request);
    CHECK(parse_notifications(R"({"id":"1","type":"edit","content":"x"})", Limits{}).error().kind ==
          ApiErrorKind::bad_id);
    CHECK(parse_notifications(R"({"id":"1","type":"reaction","message_id":"0","emoji":"a b",)"
                              R"("action":"add"})",
                              Limits{})
              .error()
              .kind == ApiErrorKind::bad_emoji);
  }

  SECTION("emoji, keys and change bodies") {
    CHECK_FALSE(check_emoji("👍"));
    CHECK_FALSE(check_emoji(":+1:"));
    CHECK(check_emoji(""));
    CHECK(check_emoji(std::string(33, 'a')));
    CHECK(check_emoji("a b"));
    CHECK(check_emoji("\xff"));
    CHECK_FALSE(check_idempotency_key(std::string(128, 'k')));
    CHECK(check_idempotency_key(std::string(129, 'k')));
    CHECK(check_idempotency_key("tab\there"));
    CHECK_FALSE(check_idempotency_key("with space"));
    CHECK(check_idempotency_key("\xc3\xa9"));
    CHECK(check_idempotency_key(""));
    Draft a{"hi", "ann", "general"};
    Draft b{"hi", "ann", "ops"};
    CHECK(post_fingerprint(a) == post_fingerprint(a));
    CHECK(post_fingerprint(a) != post_fingerprint(b));
    CHECK(parse_change("", Limits{}, false)->user.empty());
    CHECK(parse_change(R"({"user":"ann"})", Limits{}, false)->user == "ann");
    CHECK(parse_change("", Limits{}, true).error().kind == ApiErrorKind::bad_json);
    CHECK(parse_change(R"({"content":" "})", Limits{}, true).error().kind ==
          ApiErrorKind::bad_content);
    CHECK(parse_change(R"({"content":"new"})", Limits{}, true)->content == "new");
  }
}

}  // namespace livechat::wire
