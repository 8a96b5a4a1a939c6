#include <catch2/catch.hpp>

#include "wire/auth.hpp"

using namespace livechat::wire;

TEST_CASE("wire::auth") {
  SECTION("constant_time_equal tells equal secrets from any other") {
    CHECK(constant_time_equal("s3cret", "s3cret"));
    CHECK(constant_time_equal("", ""));
    CHECK_FALSE(constant_time_equal("s3cret", "s3creT"));
    CHECK_FALSE(constant_time_equal("s3cret", "s3cre"));
    CHECK_FALSE(constant_time_equal("s3cre", "s3cret"));
    CHECK_FALSE(constant_time_equal("", "x"));
    CHECK_FALSE(constant_time_equal(std::string_view("a\0", 2), "a"));
  }
  SECTION("bearer_token reads the token of a Bearer header, whatever the scheme's case") {
    CHECK(bearer_token("Bearer abc") == "abc");
    CHECK(bearer_token("bearer abc") == "abc");
    CHECK(bearer_token("BEARER   abc  ") == "abc");
    CHECK_FALSE(bearer_token("Bearer "));
    CHECK_FALSE(bearer_token("Bearer    "));
    CHECK_FALSE(bearer_token("Basic abc"));
    CHECK_FALSE(bearer_token("Bearerabc"));
    CHECK_FALSE(bearer_token(""));
  }
  SECTION("forwarded_client: the last entry, which the trusted proxy added") {
    CHECK(forwarded_client("203.0.113.7") == std::optional<std::string_view>("203.0.113.7"));
    CHECK(forwarded_client("198.51.100.1, 203.0.113.8") ==
          std::optional<std::string_view>("203.0.113.8"));
    CHECK(forwarded_client("a,\t 2001:db8::1 \t") ==
          std::optional<std::string_view>("2001:db8::1"));
    CHECK_FALSE(forwarded_client(""));
    CHECK_FALSE(forwarded_client("203.0.113.7, "));
    CHECK_FALSE(forwarded_client(" \t"));
  }

  SECTION("is_loopback_host") {
    CHECK(is_loopback_host("127.0.0.1"));
    CHECK(is_loopback_host("127.1.2.3"));
    CHECK(is_loopback_host("::1"));
    CHECK(is_loopback_host("localhost"));
    CHECK_FALSE(is_loopback_host("0.0.0.0"));
    CHECK_FALSE(is_loopback_host("::"));
    CHECK_FALSE(is_loopback_host("10.0.0.1"));
    // Spelled otherwise, still loopback.
    CHECK(is_loopback_host("LocalHost"));
    CHECK(is_loopback_host("0::1"));
    CHECK(is_loopback_host("[::1]"));
    CHECK(is_loopback_host("::ffff:127.0.0.1"));
    // Names and near misses are not: a name may resolve anywhere.
    CHECK_FALSE(is_loopback_host("127.evil.example"));
    CHECK_FALSE(is_loopback_host("127."));
    CHECK_FALSE(is_loopback_host("127.0.0.1 "));
    CHECK_FALSE(is_loopback_host(std::string_view("127.0.0.1\0x", 11)));
    CHECK_FALSE(is_loopback_host("::ffff:10.0.0.1"));
    CHECK_FALSE(is_loopback_host(""));
  }
}
