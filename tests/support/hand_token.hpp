#pragma once

#include <string>

namespace livechat::test {

// Encodes bytes as base64url without padding, for hand-made tokens.
std::string base64url(const std::string& bytes);

// Returns a hand-made JWT: `header` and `payload` (JSON text, taken as they are) signed with
// HMAC-SHA256 under `secret`, as any HS256 library would sign them. Needs no test framework,
// so the fuzz targets use it too.
std::string hs256_token(const std::string& secret, const std::string& payload,
                        const std::string& header = R"({"alg":"HS256","typ":"JWT"})");

}  // namespace livechat::test
