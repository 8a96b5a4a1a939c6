#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace livechat::wire {

// Every error the services answer with: one stable code word and one HTTP status each.
enum class ApiErrorKind {
  bad_json,
  bad_request,
  bad_content,
  bad_user,
  bad_room,
  bad_id,
  bad_emoji,
  bad_idempotency_key,
  too_large,
  headers_too_large,
  uri_too_long,
  request_timeout,
  unsupported_media_type,
  not_implemented,
  version_not_supported,
  not_found,
  gone,
  not_author,
  idempotency_key_reused,
  method_not_allowed,
  too_many_clients,
  wrong_mode,
  unauthorized,
  token_too_long,
  forbidden,
  rate_limited,
  unavailable,
  internal,
};

struct ApiError {
  ApiErrorKind kind;
  std::string message;
};

// Returns the HTTP status that goes with an error kind.
int http_status(ApiErrorKind kind);

// Returns the stable machine word of an error kind ("bad_json", ...).
std::string_view code_word(ApiErrorKind kind);

// Renders the JSON body every error is sent as: {"error":"...","code":"..."}.
std::string render_error(const ApiError& error);

// What an error body says, as a client reads it from a service.
struct ErrorBody {
  std::string message;  // "error"
  std::string code;     // "code", empty if the body has none
};

// Reads an error body as render_error writes it: nothing unless it is a JSON object whose
// "error" is a string; a "code" that is not a string is left out.
std::optional<ErrorBody> parse_error_body(std::string_view body);

// Maps an HTTP status with no body of ours (404 from routing, 413 from the payload limit)
// to the error livechat answers with.
ApiError error_for_status(int status);

}  // namespace livechat::wire
