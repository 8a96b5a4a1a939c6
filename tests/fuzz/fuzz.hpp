#pragma once

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "wire/message.hpp"

namespace livechat::fuzz {

// Stops the fuzzer with `what` when a property does not hold, so the input is kept as a crash.
inline void check(bool holds, const char* what) {
  if (!holds) {
    std::fprintf(stderr, "property failed: %s\n", what);
    std::abort();
  }
}

// Returns `bytes` cut into chunks three ways, for incremental parsers: whole, in two at the
// point `selector` (0-255) picks, and one byte at a time.
inline std::vector<std::vector<std::string_view>> chunkings(std::string_view bytes,
                                                            unsigned char selector) {
  std::size_t split = selector * (bytes.size() + 1) / 256;
  std::vector<std::string_view> one_by_one;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    one_by_one.push_back(bytes.substr(i, 1));
  }
  return {{bytes}, {bytes.substr(0, split), bytes.substr(split)}, one_by_one};
}

// Checks the rules every message livechat reads keeps: an id within its limit with no line
// break or NUL, a valid room, a user.
inline void check_message_rules(const wire::Message& message) {
  check(!message.id.empty() && message.id.size() <= wire::k_max_id_bytes,
        "the id is within its limit");
  check(message.id.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos,
        "the id has no line break or NUL");
  check(wire::is_valid_room(message.room), "the room is valid");
  check(!message.user.empty(), "the user is never empty");
}

}  // namespace livechat::fuzz
