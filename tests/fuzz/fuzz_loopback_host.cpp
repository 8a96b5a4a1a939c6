// is_loopback_host: any text is answered without harm and the same way every time; a loopback
// host is localhost (in any case) or an address inet_pton reads (brackets aside) in 127.0.0.0/8,
// ::1 or ::ffff:127.0.0.0/104; localhost, ::1 and every 127.b.c.d are loopback, no other dotted
// IPv4 address is, and of the IPv6 addresses as inet_ntop writes them only those are.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <strings.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "tests/fuzz/fuzz.hpp"
#include "wire/auth.hpp"

using livechat::fuzz::check;
using livechat::wire::is_loopback_host;

namespace {

std::string dotted(unsigned a, unsigned b, unsigned c, unsigned d) {
  return std::to_string(a) + "." + std::to_string(b) + "." + std::to_string(c) + "." +
         std::to_string(d);
}

bool loopback_address(const in6_addr& v6) {
  return IN6_IS_ADDR_LOOPBACK(&v6) || (IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127);
}

// Tells, independently of is_loopback_host, whether text names this machine only.
bool names_loopback(std::string host) {
  if (host.size() == 9 && host.find('\0') == std::string::npos &&
      strcasecmp(host.c_str(), "localhost") == 0) {
    return true;
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.find('\0') != std::string::npos) {
    return false;
  }
  in_addr v4{};
  in6_addr v6{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  return inet_pton(AF_INET6, host.c_str(), &v6) == 1 && loopback_address(v6);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string host(reinterpret_cast<const char*>(data), size);
  bool loopback = is_loopback_host(host);
  check(is_loopback_host(std::string(host)) == loopback, "the same text, the same answer");
  check(loopback == names_loopback(host),
        "loopback exactly when localhost or an address of this machine");

  // The first 4 bytes are also an IPv4 address, the first 16 an IPv6 address.
  std::uint8_t bytes[16] = {};
  std::memcpy(bytes, data, size < sizeof bytes ? size : sizeof bytes);
  check(is_loopback_host(dotted(127, bytes[1], bytes[2], bytes[3])), "127.b.c.d is loopback");
  check(is_loopback_host(dotted(bytes[0], bytes[1], bytes[2], bytes[3])) == (bytes[0] == 127),
        "of the dotted IPv4 addresses only 127.b.c.d is loopback");
  in6_addr v6{};
  std::memcpy(&v6, bytes, sizeof v6);
  char text[INET6_ADDRSTRLEN] = {};
  check(inet_ntop(AF_INET6, &v6, text, sizeof text) != nullptr, "an IPv6 address is written");
  check(is_loopback_host(text) == loopback_address(v6),
        "of the IPv6 addresses as inet_ntop writes them only ::1 and ::ffff:127.x are loopback");

  check(is_loopback_host("localhost") && is_loopback_host("::1"), "localhost and ::1 are loopback");
  check(!is_loopback_host("") && !is_loopback_host("0.0.0.0") && !is_loopback_host("::"),
        "nothing, 0.0.0.0 and :: are not loopback");
  return 0;
}
