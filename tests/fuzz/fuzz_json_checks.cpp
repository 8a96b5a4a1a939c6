// is_valid_utf8 and json_depth, the checks made before JSON is parsed, against nlohmann::json.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "tests/fuzz/fuzz.hpp"
#include "tests/fuzz/json_sax.hpp"
#include "wire/message.hpp"

using livechat::fuzz::check;
using livechat::wire::is_valid_utf8;
using livechat::wire::json_depth;

namespace {

// Follows how deeply arrays and objects nest as nlohmann::json parses a text (the parsed value
// alone can be shallower: of a key given twice, only the last value is kept).
struct DepthSax : livechat::fuzz::FollowingSax {
  std::size_t depth = 0;
  std::size_t deepest = 0;

  bool open() {
    deepest = std::max(deepest, ++depth);
    return true;
  }
  bool close() {
    --depth;
    return true;
  }
  bool start_object(std::size_t) { return open(); }
  bool start_array(std::size_t) { return open(); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }
};

// Tells whether nlohmann::json, which checks strictly, takes text as UTF-8.
bool nlohmann_takes_utf8(std::string_view text) {
  try {
    nlohmann::json(std::string(text)).dump();
    return true;
  } catch (const nlohmann::json::type_error&) {
    return false;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  check(is_valid_utf8(text) == nlohmann_takes_utf8(text), "UTF-8 agrees with nlohmann::json");

  // nlohmann::json stops at a NUL byte (livechat refuses bodies with one before parsing).
  if (text.find('\0') != std::string_view::npos) {
    return 0;
  }
  DepthSax sax;
  if (nlohmann::json::sax_parse(text, &sax)) {
    check(json_depth(text) == sax.deepest, "the depth is how deeply the parser nests");
  }
  return 0;
}
