#include <jwt.h>

#include <catch2/catch.hpp>
#include <cstdlib>

#include "wire/token.hpp"

using namespace livechat::wire;
using namespace std::chrono_literals;

namespace {

const auto k_now = std::chrono::system_clock::time_point{} + 1'800'000'000s;

// Base64url without padding, for hand-made tokens.
std::string base64url(const std::string& in) {
  static const char* k_abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  int bits = 0;
  unsigned value = 0;
  for (unsigned char c : in) {
    value = (value << 8) | c;
    bits += 8;
    while (bits >= 6) {
      out.push_back(k_abc[(value >> (bits - 6)) & 63]);
      bits -= 6;
    }
  }
  if (bits > 0) {
    out.push_back(k_abc[(value << (6 - bits)) & 63]);
  }
  return out;
}

}  // namespace

TEST_CASE("wire::token") {
  SECTION("a minted token verifies and names its user until it expires") {
    auto token = mint_token("s3cret", "alice", 24h, k_now);
    REQUIRE(token);
    auto claims = verify_token(*token, "s3cret", k_now + 1h);
    REQUIRE(claims);
    CHECK(claims->user == "alice");
    auto expired = verify_token(*token, "s3cret", k_now + 24h);
    REQUIRE_FALSE(expired);
    CHECK(expired.error().kind == ApiErrorKind::unauthorized);
    CHECK(expired.error().message.find("expired") != std::string::npos);
  }
  SECTION("another secret, a changed payload, alg none or another algorithm: refused") {
    auto token = *mint_token("s3cret", "alice", 1h, k_now);
    CHECK_FALSE(verify_token(token, "other", k_now));
    // Swap the payload for one naming bob, keeping alice's signature.
    auto first = token.find('.');
    auto second = token.find('.', first + 1);
    std::string bob = base64url(R"({"sub":"bob","iat":1800000000,"exp":1800003600})");
    CHECK_FALSE(
        verify_token(token.substr(0, first + 1) + bob + token.substr(second), "s3cret", k_now));
    std::string none = base64url(R"({"alg":"none","typ":"JWT"})") + "." + bob + ".";
    CHECK_FALSE(verify_token(none, "s3cret", k_now));
    jwt_t* jwt = nullptr;
    REQUIRE(jwt_new(&jwt) == 0);
    jwt_set_alg(jwt, JWT_ALG_HS512, reinterpret_cast<const unsigned char*>("s3cret"), 6);
    jwt_add_grant(jwt, "sub", "bob");
    jwt_add_grant_int(jwt, "exp", 1'800'003'600);
    char* hs512 = jwt_encode_str(jwt);
    CHECK_FALSE(verify_token(hs512, "s3cret", k_now));
    std::free(hs512);
    jwt_free(jwt);
    CHECK_FALSE(verify_token("", "s3cret", k_now));
    CHECK_FALSE(verify_token("not.a.token", "s3cret", k_now));
  }
  SECTION("no secret or no user: no token") {
    CHECK_FALSE(mint_token("", "alice", 1h, k_now));
    CHECK_FALSE(mint_token("s3cret", "", 1h, k_now));
  }
  SECTION("a user with a NUL byte: no token, rather than one for the name before the NUL") {
    using namespace std::string_view_literals;
    CHECK_FALSE(mint_token("s3cret", "alice\0admin"sv, 1h, k_now));
  }
  SECTION("lifetimes") {
    CHECK(parse_ttl("90") == 90s);
    CHECK(parse_ttl("90s") == 90s);
    CHECK(parse_ttl("30m") == 1800s);
    CHECK(parse_ttl("24h") == 86400s);
    CHECK(parse_ttl("7d") == 604800s);
    CHECK_FALSE(parse_ttl("0"));
    CHECK_FALSE(parse_ttl("-5m"));
    CHECK_FALSE(parse_ttl("1w"));
    CHECK_FALSE(parse_ttl("h"));
    CHECK_FALSE(parse_ttl("99999d"));
  }
}
