// verify_token, parse_ttl and bearer_token: what a client sends to authenticate. Any text is
// refused or accepted without harm; one over 4096 bytes is token_too_long; a minted token
// verifies to its user and expiry. Claims the input chooses, signed with the input's secret, get
// past the signature: a token verify_token takes is HS256, gives no key twice, and names in "sub"
// its 1-128 byte UTF-8 user and in "exp" its expiry after now, with "nbf" and "iat" (if there)
// numbers at most 60 s ahead of now.
#include <fuzzer/FuzzedDataProvider.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz.hpp"
#include "tests/fuzz/json_sax.hpp"
#include "tests/support/hand_token.hpp"
#include "wire/auth.hpp"
#include "wire/message.hpp"
#include "wire/token.hpp"

namespace {

using livechat::fuzz::check;
using namespace livechat::wire;
using json = nlohmann::json;

constexpr std::int64_t k_now = 1'800'000'000;
constexpr std::string_view k_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::optional<std::string> from_base64url(std::string_view text) {
  while (!text.empty() && text.back() == '=') {
    text.remove_suffix(1);
  }
  std::string out;
  unsigned value = 0;
  int bits = 0;
  for (char c : text) {
    auto digit = k_alphabet.find(c);
    if (digit == std::string_view::npos) {
      return std::nullopt;
    }
    value = (value << 6) | static_cast<unsigned>(digit);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((value >> bits) & 0xFF));
    }
  }
  return out;
}

// Follows the keys of every object of a JSON text, to tell whether one is given twice.
struct KeySax : livechat::fuzz::FollowingSax {
  std::vector<std::set<std::string>> objects;
  bool twice = false;

  bool start_object(std::size_t) {
    objects.emplace_back();
    return true;
  }
  bool end_object() {
    objects.pop_back();
    return true;
  }
  bool key(json::string_t& name) {
    twice = twice || !objects.back().insert(name).second;
    return true;
  }
};

// Reads one part of a token: a JSON object that gives no key twice.
json read_part(std::string_view encoded) {
  auto text = from_base64url(encoded);
  check(text.has_value(), "a taken token's parts are base64url");
  KeySax sax;
  check(json::sax_parse(*text, &sax) && !sax.twice, "a taken token gives no key twice");
  auto part = json::parse(*text, nullptr, false);
  check(part.is_object(), "a taken token's parts are JSON objects");
  return part;
}

bool at_most_a_minute_ahead(const json& payload, const char* claim) {
  auto it = payload.find(claim);
  return it == payload.end() ||
         (it->is_number() && it->get<double>() <= static_cast<double>(k_now + 60));
}

// Checks what verify_token promises of a token it took.
void check_taken(std::string_view token, const TokenClaims& claims) {
  check(token.size() <= 4096, "a taken token is at most 4096 bytes");
  check(!claims.user.empty() && claims.user.size() <= 128 && is_valid_utf8(claims.user) &&
            claims.user.find('\0') == std::string::npos,
        "a taken token names a 1-128 byte UTF-8 user without NUL");
  check(claims.expires > k_now, "a taken token expires after now");
  auto first = token.find('.');
  auto second = token.find('.', first + 1);
  check(first != std::string_view::npos && second != std::string_view::npos,
        "a taken token has three parts");
  json header = read_part(token.substr(0, first));
  json payload = read_part(token.substr(first + 1, second - first - 1));
  check(header.value("alg", json()) == "HS256", "a taken token is HS256");
  check(payload.value("sub", json()) == claims.user, "the user is the token's \"sub\"");
  auto exp = payload.find("exp");
  check(exp != payload.end() && exp->is_number_integer() &&
            exp->get<std::int64_t>() == claims.expires,
        "the expiry is the token's integer \"exp\"");
  check(at_most_a_minute_ahead(payload, "nbf"), "a taken \"nbf\" is at most 60 s ahead");
  check(at_most_a_minute_ahead(payload, "iat"), "a taken \"iat\" is at most 60 s ahead");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider input(data, size);
  std::string secret = input.ConsumeRandomLengthString(64);
  std::string user = input.ConsumeRandomLengthString(64);
  auto seconds = input.ConsumeIntegralInRange<std::int64_t>(1, 10LL * 365 * 86400);
  std::string header = input.ConsumeRandomLengthString(256);
  std::string claims_json = input.ConsumeRandomLengthString(1024);
  std::string text = input.ConsumeRemainingBytesAsString();
  const std::chrono::system_clock::time_point now{std::chrono::seconds(k_now)};

  auto verified = [&](std::string_view token) {
    auto claims = verify_token(token, secret, now);
    if (claims) {
      check_taken(token, *claims);
    } else {
      check((claims.error().kind == ApiErrorKind::token_too_long) == (token.size() > 4096),
            "exactly a token over 4096 bytes is token_too_long");
      check(claims.error().kind == ApiErrorKind::token_too_long ||
                claims.error().kind == ApiErrorKind::unauthorized,
            "a refused token is unauthorized");
    }
  };
  if (auto bearer = bearer_token(text)) {
    check(!bearer->empty() && bearer->front() != ' ' && bearer->back() != ' ',
          "a bearer token is trimmed and not empty");
    verified(*bearer);
  }
  verified(text);
  // The input's own claims, signed as livechat signs: only the claims decide.
  verified(livechat::test::hs256_token(secret, claims_json, header));
  if (auto ttl = parse_ttl(text)) {
    check(ttl->count() > 0 && ttl->count() <= 10LL * 365 * 86400, "a lifetime is 1 s to 10 years");
  }
  check(parse_ttl(std::to_string(seconds) + "s") == std::chrono::seconds(seconds),
        "a lifetime in seconds parses back");

  auto token = mint_token(secret, user, std::chrono::seconds(seconds), now);
  bool mintable = !secret.empty() && !user.empty() && is_valid_utf8(user) &&
                  user.find('\0') == std::string::npos;
  check(token.ok() == mintable, "a token is minted for a secret and a 1-64 byte UTF-8 user");
  if (!mintable) {
    return 0;
  }
  auto claims = verify_token(*token, secret, now);
  check(claims.ok(), "a minted token verifies");
  check_taken(*token, *claims);
  check(claims->user == user, "a minted token names its user");
  check(claims->expires == k_now + seconds, "a minted token keeps its expiry");
  check(!verify_token(*token, secret + "x", now).ok(), "another secret does not verify it");
  return 0;
}
