// parse_draft and parse_change: an accepted draft or change keeps the limits, and written out as
// JSON it parses the same; check_emoji takes no spaces or control characters.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

#include "tests/fuzz/fuzz.hpp"
#include "wire/message.hpp"

using livechat::fuzz::check;
using namespace livechat::wire;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  const Limits limits;
  for (const bool needs_content : {false, true}) {
    if (auto change = parse_change(body, limits, needs_content)) {
      check(!needs_content || !change->content.empty(), "an edit has content");
      check(change->content.size() <= limits.max_content_bytes, "the content is within its limit");
      check(change->user.size() <= limits.max_user_bytes, "the user is within its limit");
    }
  }
  if (!check_emoji(body)) {
    check(is_valid_utf8(body) && !body.empty() && body.size() <= k_max_emoji_bytes,
          "an emoji is short UTF-8");
    check(body.find_first_of(std::string_view(" \n\r\t\0", 5)) == std::string_view::npos,
          "an emoji has no space or control character");
  }
  auto draft = parse_draft(body, limits);
  if (!draft) {
    check(!draft.error().message.empty(), "a refusal says why");
    return 0;
  }
  check(is_valid_utf8(body), "an accepted body is UTF-8");
  check(body.find('\0') == std::string_view::npos, "an accepted body has no NUL byte");
  check(json_depth(body) <= limits.max_json_depth, "an accepted body nests within the limit");
  check(!draft->content.empty() && draft->content.size() <= limits.max_content_bytes,
        "the content is within its limit");
  check(!draft->user.empty() && draft->user.size() <= limits.max_user_bytes,
        "the user is within its limit");
  check(is_valid_room(draft->room), "the room is valid");

  nlohmann::json object = {
      {"content", draft->content}, {"user", draft->user}, {"room", draft->room}};
  auto again = parse_draft(object.dump(), limits);
  check(again.ok(), "a draft written out parses again");
  check(
      again->content == draft->content && again->user == draft->user && again->room == draft->room,
      "a draft written out parses to the same draft");
  return 0;
}
