// verify_token, parse_ttl and bearer_token: what a client sends to authenticate. Any text is
// refused or accepted without harm; an accepted one names a user and has not expired; one over
// 4096 bytes is token_too_long; and a minted token verifies to its user and expiry.
#include <fuzzer/FuzzedDataProvider.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "tests/fuzz/fuzz.hpp"
#include "wire/auth.hpp"
#include "wire/message.hpp"
#include "wire/token.hpp"

using livechat::fuzz::check;
using namespace livechat::wire;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider input(data, size);
  std::string secret = input.ConsumeRandomLengthString(64);
  std::string user = input.ConsumeRandomLengthString(64);
  auto seconds = input.ConsumeIntegralInRange<std::int64_t>(1, 10LL * 365 * 86400);
  std::string text = input.ConsumeRemainingBytesAsString();
  const std::chrono::system_clock::time_point now{std::chrono::seconds(1'800'000'000)};

  auto verified = [&](std::string_view token) {
    auto claims = verify_token(token, secret, now);
    if (claims) {
      check(!claims->user.empty(), "an accepted token names a user");
      check(claims->expires > 1'800'000'000, "an accepted token expires after now");
    } else {
      check((claims.error().kind == ApiErrorKind::token_too_long) == (token.size() > 4096),
            "exactly a token over 4096 bytes is token_too_long");
    }
  };
  if (auto header = bearer_token(text)) {
    check(!header->empty() && header->front() != ' ' && header->back() != ' ',
          "a bearer token is trimmed and not empty");
    verified(*header);
  }
  verified(text);
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
  check(claims->user == user, "a minted token names its user");
  check(claims->expires == 1'800'000'000 + seconds, "a minted token keeps its expiry");
  check(!verify_token(*token, secret + "x", now).ok(), "another secret does not verify it");
  return 0;
}
