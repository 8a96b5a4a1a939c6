// parse_redis_url: an accepted address is usable, and its own text parses to the same address.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tests/fuzz/fuzz.hpp"
#include "wire/url.hpp"

using livechat::fuzz::check;
using livechat::wire::parse_redis_url;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view url(reinterpret_cast<const char*>(data), size);
  auto address = parse_redis_url(url);
  if (!address) {
    check(address.error().code == "bad_url", "a refusal is bad_url");
    return 0;
  }
  check(!address->host.empty(), "there is a host");
  check(address->port >= 1 && address->port <= 65535, "the port is a TCP port");
  check(address->db >= 0, "the database is a number");
  auto again = parse_redis_url(address->text());
  check(again.ok(), "an address's text parses");
  check(again->host == address->host && again->port == address->port && again->db == address->db,
        "an address's text parses to the same host, port and database");
  return 0;
}
