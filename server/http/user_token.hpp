#pragma once

#include <string>

#include "wire/errors.hpp"
#include "wire/result.hpp"
#include "wire/token.hpp"

namespace httplib {
struct Request;
}

namespace livechat::server::http {

// Returns the user token a request carries: "Authorization: Bearer <token>", or ?token= (a
// browser's EventSource cannot set headers); empty if none.
std::string request_token(const httplib::Request& req);

// Checks the user token a request carries against `secret` (wire::verify_token) and returns
// its claims, or the `unauthorized` error to answer with (send_error asks for a Bearer token);
// with no secret every request passes, as nobody in particular (an empty user).
wire::Result<wire::TokenClaims, wire::ApiError> check_user_token(const httplib::Request& req,
                                                                 const std::string& secret);

}  // namespace livechat::server::http
