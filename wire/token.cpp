#include "wire/token.hpp"

#include <jwt.h>

#include <charconv>
#include <cstdlib>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

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

// Far more than a token livechat mints (about 200 bytes); a longer one is refused unread.
constexpr std::size_t k_max_token_bytes = 4096;
// How far ahead of this machine's clock the minting machine's may be, for "nbf" and "iat".
constexpr double k_clock_skew_seconds = 60;

// Decodes base64url (padding optional); nothing if the text is not base64url.
std::optional<std::string> base64url_decode(std::string_view text) {
  while (!text.empty() && text.back() == '=') {
    text.remove_suffix(1);
  }
  std::string out;
  unsigned value = 0;
  int bits = 0;
  for (char c : text) {
    unsigned digit = 0;
    if (c >= 'A' && c <= 'Z') {
      digit = static_cast<unsigned>(c - 'A');
    } else if (c >= 'a' && c <= 'z') {
      digit = static_cast<unsigned>(c - 'a' + 26);
    } else if (c >= '0' && c <= '9') {
      digit = static_cast<unsigned>(c - '0' + 52);
    } else if (c == '-') {
      digit = 62;
    } else if (c == '_') {
      digit = 63;
    } else {
      return std::nullopt;
    }
    value = ((value << 6) | digit) & 0xFFFFu;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((value >> bits) & 0xFFu));
    }
  }
  if (bits >= 6) {
    return std::nullopt;  // one character left over encodes no byte
  }
  return out;
}

// Reads one part of a token (header or payload) as livechat's own view of it: a JSON object in
// which no object names a key twice (where libjwt would silently take one of them).
Result<nlohmann::json, ApiError> read_part(std::string_view encoded) {
  auto text = base64url_decode(encoded);
  if (!text) {
    return unauthorized("the token is not valid (malformed)");
  }
  std::vector<std::set<std::string>> keys;  // of each object being read, innermost last
  bool twice = false;
  auto json = nlohmann::json::parse(
      *text,
      [&](int, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
        if (event == nlohmann::json::parse_event_t::object_start) {
          keys.emplace_back();
        } else if (event == nlohmann::json::parse_event_t::object_end && !keys.empty()) {
          keys.pop_back();
        } else if (event == nlohmann::json::parse_event_t::key && !keys.empty() &&
                   !keys.back().insert(parsed.get<std::string>()).second) {
          twice = true;
        }
        return true;
      },
      false);
  if (twice) {
    return unauthorized("the token is not valid (it gives a claim twice)");
  }
  if (json.is_discarded() || !json.is_object()) {
    return unauthorized("the token is not valid (malformed)");
  }
  return json;
}

// Returns a NumericDate claim ("nbf", "iat") if the payload has it; a claim that is there but
// not a number is an error.
Result<std::optional<double>, ApiError> numeric_date(const nlohmann::json& payload,
                                                     const char* name) {
  auto it = payload.find(name);
  if (it == payload.end()) {
    return std::optional<double>();
  }
  if (!it->is_number()) {
    return unauthorized(std::string("the token is not valid (\"") + name + "\" is not a number)");
  }
  return std::optional<double>(it->get<double>());
}

}  // namespace

Result<std::string> mint_token(std::string_view secret, std::string_view user,
                               std::chrono::seconds ttl,
                               std::chrono::system_clock::time_point now) {
  if (secret.empty()) {
    return Error{"no_secret", "a token needs the auth secret"};
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
  if (token.size() > k_max_token_bytes) {
    return ApiError{ApiErrorKind::token_too_long,
                    "the token is longer than 4096 bytes; livechat's tokens are far shorter"};
  }
  if (token.empty()) {
    return unauthorized("a token is missing (Authorization: Bearer <token>, or ?token=)");
  }
  auto first = token.find('.');
  auto second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos) {
    return unauthorized("the token is not valid (malformed)");
  }
  auto header = read_part(token.substr(0, first));
  if (!header) {
    return header.error();
  }
  // RFC 7515 names algorithms case-sensitively; libjwt would take "hs256" for HS256 too.
  if (auto alg = header->find("alg"); alg == header->end() || *alg != "HS256") {
    return unauthorized("the token is not valid (livechat takes HS256 only)");
  }
  auto payload = read_part(token.substr(first + 1, second - first - 1));
  if (!payload) {
    return payload.error();
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
  // The claims are read from livechat's own view of the signed payload.
  auto subject = payload->find("sub");
  auto exp = payload->find("exp");
  if (subject == payload->end() || !subject->is_string() ||
      subject->get_ref<const std::string&>().empty() || exp == payload->end() ||
      !exp->is_number_integer() ||
      (exp->is_number_unsigned() &&
       exp->get<std::uint64_t>() > std::uint64_t{std::numeric_limits<std::int64_t>::max()}) ||
      exp->get<std::int64_t>() <= 0) {
    return unauthorized("the token is not valid (it needs \"sub\" and \"exp\")");
  }
  const auto seconds = seconds_since_epoch(now);
  if (exp->get<std::int64_t>() <= seconds) {
    return unauthorized("the token has expired; get a new one");
  }
  auto not_before = numeric_date(*payload, "nbf");
  if (!not_before) {
    return not_before.error();
  }
  if (*not_before && **not_before > static_cast<double>(seconds) + k_clock_skew_seconds) {
    return unauthorized("the token is not valid yet (its \"nbf\" is in the future)");
  }
  auto issued = numeric_date(*payload, "iat");
  if (!issued) {
    return issued.error();
  }
  if (*issued && **issued > static_cast<double>(seconds) + k_clock_skew_seconds) {
    return unauthorized(
        "the token was issued in the future (its \"iat\"); check the clocks of both machines");
  }
  TokenClaims claims{subject->get<std::string>(), exp->get<std::int64_t>()};
  if (claims.user.size() > Limits{}.max_user_bytes || !is_valid_utf8(claims.user) ||
      claims.user.find('\0') != std::string::npos) {
    return unauthorized("the token's user is not 1-128 bytes of UTF-8 without NUL");
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
