// is_valid_utf8 and json_depth, the checks made before JSON is parsed, against nlohmann::json.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "tests/fuzz/fuzz.hpp"
#include "wire/message.hpp"

using livechat::fuzz::check;
using livechat::wire::is_valid_utf8;
using livechat::wire::json_depth;

namespace {

// Returns how deeply a parsed value nests (a scalar is 0, [] is 1).
std::size_t depth_of(const nlohmann::json& value) {
  if (!value.is_structured()) {
    return 0;
  }
  std::size_t deepest = 0;
  for (const auto& item : value) {
    deepest = std::max(deepest, depth_of(item));
  }
  return deepest + 1;
}

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

  // Nesting past this is refused before nlohmann::json recurses into it.
  constexpr std::size_t k_deep = 64;
  std::size_t depth = json_depth(text);
  if (depth > k_deep) {
    return 0;
  }
  // nlohmann::json stops at a NUL byte (livechat refuses bodies with one before parsing).
  if (text.find('\0') != std::string_view::npos) {
    return 0;
  }
  auto parsed = nlohmann::json::parse(text, nullptr, false);
  if (!parsed.is_discarded()) {
    check(depth == depth_of(parsed), "the depth is the depth of the parsed value");
  }
  return 0;
}
