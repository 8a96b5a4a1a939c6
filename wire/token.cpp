#include "wire/token.hpp"

#include <jwt.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <memory>

#include "wire/message.hpp"

namespace livechat::wire {
namespace {

struct JwtFree {
  void operator()(jwt_t* jwt) const { jwt_free(jwt); }
};
using Jwt = std::unique_ptr<jwt_t, JwtFree>;

std::int64_t seconds_since_epoch(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

ApiError unauthorized(std::string why) { return {ApiErrorKind::unauthorized, std::move(why)}; }

}  // namespace

Result<std::string> mint_token(std::string_view secret, std::string_view user,
                               std::chrono::seconds ttl,
                               std::chrono::system_clock::time_point now) {
  if (secret.empty()) {
    return Error{"no_secret", "a token needs the auth secret (--secret or LIVECHAT_AUTH_SECRET)"};
  }
  // libjwt takes the user as a C string, so a NUL byte would cut the name short.
  if (user.empty() || user.size() > Limits{}.max_user_bytes || !is_valid_utf8(user) ||
      user.find('\0') != std::string_view::npos) {
    return Error{"bad_user", "the user must be 1-128 bytes of UTF-8 without NUL"};
  }
  jwt_t* raw = nullptr;
  if (jwt_new(&raw) != 0) {
    return Error{"jwt", "out of memory"};
  }
  Jwt jwt(raw);
  const std::string subject(user);
  const auto issued = seconds_since_epoch(now);
  if (jwt_set_alg(jwt.get(), JWT_ALG_HS256, reinterpret_cast<const unsigned char*>(secret.data()),
                  static_cast<int>(secret.size())) != 0 ||
      jwt_add_grant(jwt.get(), "sub", subject.c_str()) != 0 ||
      jwt_add_grant_int(jwt.get(), "iat", static_cast<long>(issued)) != 0 ||
      jwt_add_grant_int(jwt.get(), "exp", static_cast<long>(issued + ttl.count())) != 0) {
    return Error{"jwt", "cannot build the token"};
  }
  char* encoded = jwt_encode_str(jwt.get());
  if (encoded == nullptr) {
    return Error{"jwt", "cannot sign the token"};
  }
  std::string token(encoded);
  std::free(encoded);  // libjwt 1.10 allocates it with malloc
  return token;
}

Result<TokenClaims, ApiError> verify_token(std::string_view token, std::string_view secret,
                                           std::chrono::system_clock::time_point now) {
  if (token.empty() || token.size() > 4096) {
    return unauthorized("a token is missing (Authorization: Bearer <token>, or ?token=)");
  }
  const std::string text(token);
  jwt_t* raw = nullptr;
  // With the key given, libjwt checks the signature; a token signed otherwise fails here.
  if (jwt_decode(&raw, text.c_str(), reinterpret_cast<const unsigned char*>(secret.data()),
                 static_cast<int>(secret.size())) != 0) {
    return unauthorized("the token is not valid (malformed, or not signed with this secret)");
  }
  Jwt jwt(raw);
  // Only what livechat signs: HS256 (never "none", never another algorithm).
  if (jwt_get_alg(jwt.get()) != JWT_ALG_HS256) {
    return unauthorized("the token is not valid (livechat takes HS256 only)");
  }
  const char* subject = jwt_get_grant(jwt.get(), "sub");
  errno = 0;
  long expires = jwt_get_grant_int(jwt.get(), "exp");
  if (subject == nullptr || *subject == '\0' || errno != 0 || expires <= 0) {
    return unauthorized("the token is not valid (it needs \"sub\" and \"exp\")");
  }
  if (expires <= seconds_since_epoch(now)) {
    return unauthorized("the token has expired; get a new one");
  }
  TokenClaims claims{subject, expires};
  if (claims.user.size() > Limits{}.max_user_bytes || !is_valid_utf8(claims.user)) {
    return unauthorized("the token's user is not 1-128 bytes of UTF-8");
  }
  return claims;
}

std::optional<std::chrono::seconds> parse_ttl(std::string_view text) {
  long long count = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), count);
  if (ec != std::errc{} || count <= 0) {
    return std::nullopt;
  }
  std::string_view unit(ptr, static_cast<std::size_t>(text.data() + text.size() - ptr));
  long long scale = 0;
  if (unit.empty() || unit == "s") {
    scale = 1;
  } else if (unit == "m") {
    scale = 60;
  } else if (unit == "h") {
    scale = 3600;
  } else if (unit == "d") {
    scale = 86400;
  } else {
    return std::nullopt;
  }
  if (count > 10LL * 365 * 86400 / scale) {
    return std::nullopt;  // more than ten years
  }
  return std::chrono::seconds(count * scale);
}

}  // namespace livechat::wire
