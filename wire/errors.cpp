#include "wire/errors.hpp"

#include <array>
#include <nlohmann/json.hpp>

namespace livechat::wire {
namespace {

struct Row {
  ApiErrorKind kind;
  int status;
  std::string_view code;
};

// The one table of API errors.
constexpr std::array k_table = {
    Row{ApiErrorKind::bad_json, 400, "bad_json"},
    Row{ApiErrorKind::bad_request, 400, "bad_request"},
    Row{ApiErrorKind::bad_content, 400, "bad_content"},
    Row{ApiErrorKind::bad_user, 400, "bad_user"},
    Row{ApiErrorKind::bad_room, 400, "bad_room"},
    Row{ApiErrorKind::bad_id, 400, "bad_id"},
    Row{ApiErrorKind::bad_emoji, 400, "bad_emoji"},
    Row{ApiErrorKind::bad_idempotency_key, 400, "bad_idempotency_key"},
    Row{ApiErrorKind::too_large, 413, "too_large"},
    Row{ApiErrorKind::headers_too_large, 431, "headers_too_large"},
    Row{ApiErrorKind::uri_too_long, 414, "uri_too_long"},
    Row{ApiErrorKind::request_timeout, 408, "request_timeout"},
    Row{ApiErrorKind::unsupported_media_type, 415, "unsupported_media_type"},
    Row{ApiErrorKind::not_implemented, 501, "not_implemented"},
    Row{ApiErrorKind::version_not_supported, 505, "version_not_supported"},
    Row{ApiErrorKind::not_found, 404, "not_found"},
    Row{ApiErrorKind::gone, 410, "gone"},
    Row{ApiErrorKind::not_author, 403, "not_author"},
    Row{ApiErrorKind::idempotency_key_reused, 422, "idempotency_key_reused"},
    Row{ApiErrorKind::method_not_allowed, 405, "method_not_allowed"},
    Row{ApiErrorKind::unauthorized, 401, "unauthorized"},
    Row{ApiErrorKind::token_too_long, 401, "token_too_long"},
    Row{ApiErrorKind::forbidden, 403, "forbidden"},
    Row{ApiErrorKind::wrong_mode, 409, "wrong_mode"},
    Row{ApiErrorKind::rate_limited, 429, "rate_limited"},
    Row{ApiErrorKind::too_many_clients, 503, "too_many_clients"},
    Row{ApiErrorKind::unavailable, 503, "unavailable"},
    Row{ApiErrorKind::internal, 500, "internal"},
};

const Row& row(ApiErrorKind kind) {
  for (const auto& r : k_table) {
    if (r.kind == kind) {
      return r;
    }
  }
  return k_table.back();
}

}  // namespace

int http_status(ApiErrorKind kind) { return row(kind).status; }

std::string_view code_word(ApiErrorKind kind) { return row(kind).code; }

std::string render_error(const ApiError& error) {
  nlohmann::json body = {{"error", error.message}, {"code", std::string(code_word(error.kind))}};
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::optional<ErrorBody> parse_error_body(std::string_view body) {
  // nlohmann::json would take a NUL byte for the end of the body.
  if (body.find('\0') != std::string_view::npos) {
    return std::nullopt;
  }
  auto reply = nlohmann::json::parse(body, nullptr, false);
  if (!reply.is_object()) {
    return std::nullopt;
  }
  auto error = reply.find("error");
  if (error == reply.end() || !error->is_string()) {
    return std::nullopt;
  }
  auto code = reply.find("code");
  return ErrorBody{error->get<std::string>(),
                   code != reply.end() && code->is_string() ? code->get<std::string>() : ""};
}

ApiError error_for_status(int status) {
  switch (status) {
    case 404:
      return {ApiErrorKind::not_found, "no such endpoint"};
    case 405:
      return {ApiErrorKind::method_not_allowed, "method not allowed on this endpoint"};
    case 413:
      return {ApiErrorKind::too_large, "request body too large"};
    case 414:
      return {ApiErrorKind::uri_too_long, "the request's URL is longer than 8 KiB"};
    case 415:
      return {ApiErrorKind::unsupported_media_type,
              "this endpoint takes JSON, not this media type"};
    case 501:
      return {ApiErrorKind::not_implemented, "not implemented"};
    case 503:
      return {ApiErrorKind::unavailable, "service unavailable, try again"};
    default:
      if (status >= 500) {
        return {ApiErrorKind::internal, "internal error"};
      }
      return {ApiErrorKind::bad_request, "bad request"};
  }
}

}  // namespace livechat::wire
