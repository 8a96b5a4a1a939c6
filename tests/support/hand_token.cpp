#include "tests/support/hand_token.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <string_view>

namespace livechat::test {

std::string base64url(const std::string& bytes) {
  static constexpr std::string_view k_digits =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  int bits = 0;
  unsigned value = 0;
  for (unsigned char c : bytes) {
    value = ((value << 8) | c) & 0xFFFFu;
    bits += 8;
    while (bits >= 6) {
      out.push_back(k_digits[(value >> (bits - 6)) & 63]);
      bits -= 6;
    }
  }
  if (bits > 0) {
    out.push_back(k_digits[(value << (6 - bits)) & 63]);
  }
  return out;
}

std::string hs256_token(const std::string& secret, const std::string& payload,
                        const std::string& header) {
  std::string signed_part = base64url(header) + "." + base64url(payload);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(signed_part.data()), signed_part.size(), mac,
       &length);
  return signed_part + "." + base64url(std::string(reinterpret_cast<char*>(mac), length));
}

}  // namespace livechat::test
