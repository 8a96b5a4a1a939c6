#include "server/http/user_token.hpp"

#include <httplib.h>

#include "wire/auth.hpp"

namespace livechat::server::http {

std::string request_token(const httplib::Request& req) {
  const std::string authorization = req.get_header_value("Authorization");
  if (auto token = wire::bearer_token(authorization)) {
    return std::string(*token);
  }
  return req.get_param_value("token");
}

wire::Result<wire::TokenClaims, wire::ApiError> check_user_token(const httplib::Request& req,
                                                                 const std::string& secret) {
  if (secret.empty()) {
    return wire::TokenClaims{};
  }
  return wire::verify_token(request_token(req), secret);
}

}  // namespace livechat::server::http
