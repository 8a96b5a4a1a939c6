#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "wire/errors.hpp"
#include "wire/result.hpp"

namespace livechat::wire {

// Who a valid user token speaks for, and until when.
struct TokenClaims {
  std::string user;
  std::int64_t expires = 0;  // seconds since the epoch
};

// Signs a user token (JWT, HS256, through libjwt): {"sub": user, "iat": now, "exp": now + ttl}.
Result<std::string> mint_token(
    std::string_view secret, std::string_view user, std::chrono::seconds ttl,
    std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

// Checks a user token: at most 4096 bytes, no claim given twice, signed with `secret` (HS256
// only), naming a user, not expired, and neither "nbf" nor "iat" more than 60 s ahead of `now`.
// A token that fails is an `unauthorized` error that says why (`token_too_long` if too long).
Result<TokenClaims, ApiError> verify_token(
    std::string_view token, std::string_view secret,
    std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

// Parses a lifetime: "90" or "90s", "30m", "24h", "7d"; nothing if it is not one.
std::optional<std::chrono::seconds> parse_ttl(std::string_view text);

}  // namespace livechat::wire
