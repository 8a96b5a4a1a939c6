#include <catch2/catch.hpp>

#include <string>
#include <string_view>

#include "wire/url.hpp"

namespace livechat::wire {
namespace {

Endpoint parsed(std::string_view url) {
  auto result = parse_endpoint(url);
  INFO(url);
  REQUIRE(result.ok());
  return *result;
}

// Decodes %XX escapes, for checking that url_encode loses nothing.
std::string url_decode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      out.push_back(static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

}  // namespace

TEST_CASE("url::parse_endpoint") {
  SECTION("http and https with their default ports") {
    auto http = parsed("http://example.com");
    CHECK(http.scheme == "http");
    CHECK(http.host == "example.com");
    CHECK(http.port == 80);
    CHECK(http.base_path.empty());
    auto https = parsed("https://example.com");
    CHECK(https.scheme == "https");
    CHECK(https.port == 443);
  }
  SECTION("an explicit port") {
    CHECK(parsed("http://localhost:8080").port == 8080);
    CHECK(parsed("https://chat.example.org:8443/").port == 8443);
    CHECK(parsed("http://h:1").port == 1);
    CHECK(parsed("http://h:65535").port == 65535);
  }
  SECTION("no scheme means http") {
    auto endpoint = parsed("localhost:9000");
    CHECK(endpoint.scheme == "http");
    CHECK(endpoint.host == "localhost");
    CHECK(endpoint.port == 9000);
    CHECK(parsed("example.com").port == 80);
  }
  SECTION("keeps the path prefix without trailing slashes, and drops query and fragment") {
    CHECK(parsed("http://h:1/api").base_path == "/api");
    CHECK(parsed("http://h:1/api/v1/").base_path == "/api/v1");
    CHECK(parsed("http://h:1/api//").base_path == "/api");
    CHECK(parsed("http://h:1/").base_path.empty());
    CHECK(parsed("http://h:1/api?x=1/2").base_path == "/api");
    CHECK(parsed("http://h:1/api/#top").base_path == "/api");
    CHECK(parsed("http://h:1/?x=1").base_path.empty());
  }
  SECTION("IPv6 hosts in brackets") {
    auto endpoint = parsed("http://[::1]:9000/chat");
    CHECK(endpoint.host == "::1");
    CHECK(endpoint.port == 9000);
    CHECK(endpoint.base_path == "/chat");
    CHECK(endpoint.origin() == "http://[::1]:9000");
    auto no_port = parsed("https://[2001:db8::1]");
    CHECK(no_port.host == "2001:db8::1");
    CHECK(no_port.port == 443);
  }
  SECTION("the scheme is case-insensitive") {
    auto endpoint = parse_endpoint("HTTPS://Example.com");
    REQUIRE(endpoint.ok());
    CHECK(endpoint->scheme == "https");
    CHECK(endpoint->port == 443);
  }

  SECTION("rejects unusable URLs") {
    for (auto bad : {"", "http://", "http://:8080", "http:///path", "http://h:0", "http://h:70000",
                     "http://h:65536", "http://h:abc", "http://h:80abc", "http://h:-1",
                     "ftp://example.com", "ws://h:1", "http://[::1", "http://[::1]x",
                     "http://[]:80", "http://h:", "http://[::1]:"}) {
      INFO(bad);
      auto result = parse_endpoint(bad);
      REQUIRE_FALSE(result.ok());
      CHECK(result.error().code == "bad_url");
      CHECK(result.error().message.find(bad) != std::string::npos);
    }
  }
  SECTION("rejects hosts with a colon outside brackets or a stray bracket") {
    for (auto bad : {"http://::1:80", "::1", "http://a]:b:80", "http://a]b:80", "http://[[::1]:80",
                     "9[:0]::100/"}) {
      INFO(bad);
      auto result = parse_endpoint(bad);
      REQUIRE_FALSE(result.ok());
      CHECK(result.error().code == "bad_url");
    }
  }
}

TEST_CASE("url::Endpoint") {
  SECTION("origin() always names the port") {
    CHECK(parsed("http://example.com").origin() == "http://example.com:80");
    CHECK(parsed("https://example.com/x").origin() == "https://example.com:443");
  }
  SECTION("url() joins origin, prefix and path") {
    auto endpoint = parsed("http://h:8080/api/");
    CHECK(endpoint.url() == "http://h:8080/api");
    CHECK(endpoint.url("/messages") == "http://h:8080/api/messages");
    CHECK(parsed("http://h:8080").url("/events?rooms=a") == "http://h:8080/events?rooms=a");
  }
  SECTION("origin() parses back to the same endpoint") {
    for (auto url : {"https://h:8443/p", "http://[fe80::1]:81", "localhost"}) {
      INFO(url);
      auto endpoint = parsed(url);
      auto again = parsed(endpoint.url());
      CHECK(again.scheme == endpoint.scheme);
      CHECK(again.host == endpoint.host);
      CHECK(again.port == endpoint.port);
      CHECK(again.base_path == endpoint.base_path);
    }
  }
}

TEST_CASE("url::url_encode") {
  SECTION("keeps unreserved characters") {
    CHECK(url_encode("") == "");
    CHECK(url_encode("AZaz09-_.~") == "AZaz09-_.~");
  }
  SECTION("escapes reserved characters with upper-case hex") {
    CHECK(url_encode("a b&c=d/e?f#g") == "a%20b%26c%3Dd%2Fe%3Ff%23g");
    CHECK(url_encode("50%+1,2;:@!") == "50%25%2B1%2C2%3B%3A%40%21");
    CHECK(url_encode(std::string_view("\0\n", 2)) == "%00%0A");
  }
  SECTION("escapes every byte of UTF-8 text") {
    CHECK(url_encode("caf\xC3\xA9") == "caf%C3%A9");
    CHECK(url_encode("\xE4\xB8\xAD") == "%E4%B8%AD");
    CHECK(url_encode("\xF0\x9F\x98\x80") == "%F0%9F%98%80");
  }
  SECTION("every byte survives a decode") {
    std::string all;
    for (int c = 0; c < 256; ++c) {
      all.push_back(static_cast<char>(c));
    }
    const auto encoded = url_encode(all);
    CHECK(encoded.find_first_not_of(
              "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~%") ==
          std::string::npos);
    CHECK(url_decode(encoded) == all);
  }
}

TEST_CASE("url::parse_redis_url") {
  auto parsed_redis = [](std::string_view url) {
    auto result = parse_redis_url(url);
    INFO(url);
    REQUIRE(result.ok());
    return *result;
  };
  SECTION("host, port and database, with defaults") {
    auto a = parsed_redis("redis://10.0.0.5:7000/3");
    CHECK(a.host == "10.0.0.5");
    CHECK(a.port == 7000);
    CHECK(a.db == 3);
    CHECK(a.password.empty());
    auto b = parsed_redis("redis://cache");
    CHECK(b.host == "cache");
    CHECK(b.port == 6379);
    CHECK(b.db == 0);
    CHECK(parsed_redis("localhost:6380").port == 6380);
    CHECK(parsed_redis("redis://[::1]").host == "::1");
    CHECK(parsed_redis("redis://[::1]").port == 6379);
    CHECK(parsed_redis("redis://[::1]:7001/2").port == 7001);
  }
  SECTION("a password, which the printable form leaves out") {
    auto a = parsed_redis("redis://:s3cret@cache:6379/1");
    CHECK(a.password == "s3cret");
    CHECK(a.text() == "redis://cache:6379/1");
    CHECK(parsed_redis("redis://app:pw@cache").password == "pw");
    CHECK(parsed_redis("redis://app:pw@cache").user == "app");
    CHECK(parsed_redis("redis://:pw@cache").user.empty());
  }
  SECTION("what is not a Redis URL says why") {
    for (std::string_view bad : {"http://cache", "rediss://cache", "redis://", "redis://cache:0",
                                 "redis://cache:x", "redis://cache/x", "redis://cache/-1"}) {
      INFO(bad);
      auto result = parse_redis_url(bad);
      REQUIRE_FALSE(result.ok());
      CHECK(result.error().message.find("Redis URL") != std::string::npos);
    }
  }
}

}  // namespace livechat::wire
