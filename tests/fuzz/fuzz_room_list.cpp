// parse_room_list: an accepted list holds distinct valid rooms and joined again parses the same.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "tests/fuzz/fuzz.hpp"
#include "wire/message.hpp"

using livechat::fuzz::check;
using namespace livechat::wire;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view list(reinterpret_cast<const char*>(data), size);
  auto rooms = parse_room_list(list);
  if (!rooms) {
    check(!list.empty(), "an empty list is every room");
    return 0;
  }
  std::string joined;
  for (std::size_t i = 0; i < rooms->size(); ++i) {
    const auto& room = (*rooms)[i];
    check(is_valid_room(room), "each room is valid");
    check(std::find(rooms->begin(), rooms->begin() + i, room) == rooms->begin() + i,
          "each room is listed once");
    joined.append(i == 0 ? "" : ",").append(room);
  }
  auto again = parse_room_list(joined);
  check(again.ok() && *again == *rooms, "the rooms joined again parse the same");
  return 0;
}
