#include <jwt.h>

#include <catch2/catch.hpp>
#include <cstdlib>

#include "tests/support/helpers.hpp"
#include "wire/token.hpp"

using namespace livechat::wire;
using livechat::test::base64url;
using livechat::test::hs256_token;
using namespace std::chrono_literals;

namespace {

const auto k_now = std::chrono::system_clock::time_point{} + 1'800'000'000s;

// Returns a payload naming `user` with the given "exp", and "nbf" and "iat" if not empty.
std::string payload(const std::string& user, long exp, const std::string& extra = "") {
  return R"({"sub":")" + user + R"(","exp":)" + std::to_string(exp) + extra + "}";
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
  SECTION("a hand-made HS256 token verifies like a minted one") {
    auto claims =
        verify_token(hs256_token("s3cret", payload("carol", 1'800'003'600)), "s3cret", k_now);
    REQUIRE(claims);
    CHECK(claims->user == "carol");
    CHECK(claims->expires == 1'800'003'600);
  }
  SECTION("\"alg\" is HS256 as written, not in another case") {
    for (const char* header : {R"({"alg":"hs256","typ":"JWT"})", R"({"alg":"hS256"})",
                               R"({"typ":"JWT"})", R"({"alg":["HS256"]})"}) {
      INFO(header);
      auto refused = verify_token(hs256_token("s3cret", payload("carol", 1'800'003'600), header),
                                  "s3cret", k_now);
      REQUIRE_FALSE(refused);
      CHECK(refused.error().message.find("HS256") != std::string::npos);
    }
  }
  SECTION("\"nbf\" or \"iat\" more than 60 s ahead: refused; within 60 s: taken") {
    const long soon = 1'800'000'000 + 60;
    const long later = 1'800'000'000 + 61;
    for (const char* claim : {"nbf", "iat"}) {
      INFO(claim);
      auto at = [&](long when) {
        return hs256_token("s3cret",
                           payload("carol", 1'800'003'600,
                                   std::string(",\"") + claim + "\":" + std::to_string(when)));
      };
      CHECK(verify_token(at(soon), "s3cret", k_now));
      CHECK(verify_token(at(1'700'000'000), "s3cret", k_now));
      auto refused = verify_token(at(later), "s3cret", k_now);
      REQUIRE_FALSE(refused);
      CHECK(refused.error().kind == ApiErrorKind::unauthorized);
      CHECK(refused.error().message.find(claim) != std::string::npos);
      CHECK(refused.error().message.find("future") != std::string::npos);
      // Not a number is not a date either.
      auto text = hs256_token(
          "s3cret", payload("carol", 1'800'003'600, std::string(",\"") + claim + "\":\"soon\""));
      CHECK_FALSE(verify_token(text, "s3cret", k_now));
    }
  }
  SECTION("a claim given twice, in the payload or the header: refused, whichever comes last") {
    for (const char* twice : {R"({"sub":"carol","sub":"admin","exp":1800003600})",
                              R"({"sub":"admin","sub":"carol","exp":1800003600})",
                              R"({"sub":"carol","exp":1800003600,"exp":1900000000})",
                              R"({"sub":"carol","exp":1800003600,"rooms":{"a":1,"a":2}})"}) {
      INFO(twice);
      auto refused = verify_token(hs256_token("s3cret", twice), "s3cret", k_now);
      REQUIRE_FALSE(refused);
      CHECK(refused.error().kind == ApiErrorKind::unauthorized);
      CHECK(refused.error().message.find("twice") != std::string::npos);
    }
    auto header_twice = hs256_token("s3cret", payload("carol", 1'800'003'600),
                                    R"({"alg":"HS256","alg":"HS256","typ":"JWT"})");
    CHECK_FALSE(verify_token(header_twice, "s3cret", k_now));
    // The same key in two different objects is not a duplicate.
    CHECK(verify_token(hs256_token("s3cret", R"({"sub":"carol","exp":1800003600,"a":{"sub":1}})"),
                       "s3cret", k_now));
  }
  SECTION("a token over 4096 bytes is token_too_long; 4096 bytes is read as usual") {
    std::string padding(4096, 'x');
    auto long_token =
        hs256_token("s3cret", payload("carol", 1'800'003'600, R"(,"pad":")" + padding + R"(")"));
    REQUIRE(long_token.size() > 4096);
    auto refused = verify_token(long_token, "s3cret", k_now);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().kind == ApiErrorKind::token_too_long);
    CHECK(http_status(refused.error().kind) == 401);
    CHECK(verify_token(std::string(5000, 'a'), "s3cret", k_now).error().kind ==
          ApiErrorKind::token_too_long);
    // Grown to exactly 4096 bytes, a valid token is taken.
    std::size_t pad = 0;
    std::string exact;
    do {
      exact = hs256_token("s3cret", payload("carol", 1'800'003'600,
                                            R"(,"pad":")" + std::string(pad++, 'x') + R"(")"));
    } while (exact.size() < 4096);
    REQUIRE(exact.size() == 4096);
    CHECK(verify_token(exact, "s3cret", k_now));
    CHECK(verify_token("", "s3cret", k_now).error().kind == ApiErrorKind::unauthorized);
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
