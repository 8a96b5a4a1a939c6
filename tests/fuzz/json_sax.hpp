#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>

namespace livechat::fuzz {

// A nlohmann::json SAX consumer that takes every value and stops at the first error: a target
// derives from it and declares only the events it follows (a derived one hides this one's).
struct FollowingSax {
  using json = nlohmann::json;
  bool start_object(std::size_t) { return true; }
  bool end_object() { return true; }
  bool start_array(std::size_t) { return true; }
  bool end_array() { return true; }
  bool key(json::string_t&) { return true; }
  bool null() { return true; }
  bool boolean(bool) { return true; }
  bool number_integer(json::number_integer_t) { return true; }
  bool number_unsigned(json::number_unsigned_t) { return true; }
  bool number_float(json::number_float_t, const json::string_t&) { return true; }
  bool string(json::string_t&) { return true; }
  bool binary(json::binary_t&) { return true; }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) {
    return false;
  }
};

}  // namespace livechat::fuzz
