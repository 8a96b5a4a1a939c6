// parse_endpoint: an accepted endpoint is usable, and its own URL parses to the same endpoint.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tests/fuzz/fuzz.hpp"
#include "wire/url.hpp"

using livechat::fuzz::check;
using livechat::wire::parse_endpoint;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view url(reinterpret_cast<const char*>(data), size);
  auto endpoint = parse_endpoint(url);
  if (!endpoint) {
    check(endpoint.error().code == "bad_url", "a refusal is bad_url");
    return 0;
  }
  check(endpoint->scheme == "http" || endpoint->scheme == "https", "the scheme is http(s)");
  check(!endpoint->host.empty(), "there is a host");
  check(endpoint->port >= 1 && endpoint->port <= 65535, "the port is a TCP port");
  check(endpoint->base_path.empty() || endpoint->base_path.front() == '/',
        "the base path starts with a slash");
  check(endpoint->base_path.empty() || endpoint->base_path.back() != '/',
        "the base path has no trailing slash");

  auto again = parse_endpoint(endpoint->url());
  check(again.ok(), "an endpoint's URL parses");
  check(again->scheme == endpoint->scheme && again->host == endpoint->host &&
            again->port == endpoint->port && again->base_path == endpoint->base_path,
        "an endpoint's URL parses to the same endpoint");
  return 0;
}
