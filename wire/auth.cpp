#include "wire/auth.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cctype>

namespace livechat::wire {

bool constant_time_equal(std::string_view a, std::string_view b) {
  // Every byte of the longer one is looked at, whatever the contents.
  unsigned char difference = a.size() == b.size() ? 0 : 1;
  std::size_t length = a.size() > b.size() ? a.size() : b.size();
  for (std::size_t i = 0; i < length; ++i) {
    unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    difference = static_cast<unsigned char>(difference | (x ^ y));
  }
  return difference == 0;
}

std::optional<std::string_view> bearer_token(std::string_view authorization) {
  constexpr std::string_view k_scheme = "bearer ";
  if (authorization.size() <= k_scheme.size()) {
    return std::nullopt;
  }
  for (std::size_t i = 0; i < k_scheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != k_scheme[i]) {
      return std::nullopt;
    }
  }
  auto token = authorization.substr(k_scheme.size());
  while (!token.empty() && (token.front() == ' ' || token.front() == '\t')) {
    token.remove_prefix(1);
  }
  while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) {
    token.remove_suffix(1);
  }
  if (token.empty()) {
    return std::nullopt;
  }
  return token;
}

std::optional<std::string_view> forwarded_client(std::string_view x_forwarded_for) {
  auto comma = x_forwarded_for.rfind(',');
  auto last = x_forwarded_for.substr(comma == std::string_view::npos ? 0 : comma + 1);
  auto first = last.find_first_not_of(" \t");
  if (first == std::string_view::npos) {
    return std::nullopt;
  }
  auto end = last.find_last_not_of(" \t");
  return last.substr(first, end - first + 1);
}

bool is_loopback_host(std::string_view host) {
  constexpr std::string_view k_localhost = "localhost";
  if (host.size() == k_localhost.size() &&
      std::equal(host.begin(), host.end(), k_localhost.begin(),
                 [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == b; })) {
    return true;
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  // Only an address, read as the resolver would: "127.evil.example" is a name, not 127/8.
  if (host.empty() || host.size() >= INET6_ADDRSTRLEN || host.find('\0') != host.npos) {
    return false;
  }
  char text[INET6_ADDRSTRLEN];
  host.copy(text, host.size());
  text[host.size()] = '\0';
  in_addr v4{};
  if (inet_pton(AF_INET, text, &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, text, &v6) == 1) {
    if (IN6_IS_ADDR_V4MAPPED(&v6)) {
      return v6.s6_addr[12] == 127;
    }
    return IN6_IS_ADDR_LOOPBACK(&v6) != 0;
  }
  return false;
}

}  // namespace livechat::wire
