#include "wire/auth.hpp"

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

bool is_loopback_host(std::string_view host) {
  return host == "localhost" || host == "::1" || host.substr(0, 4) == "127.";
}

}  // namespace livechat::wire
