#include <string>

#include "server/http/event_loop.hpp"
#include "server/http/server.hpp"

// The words of HTTP answers: reason phrases, and the answer to a request rejected before it
// was read whole.

namespace livechat::server::http {

const char* reason_phrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 413:
      return "Payload Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Content";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return status < 400 ? "OK" : status < 500 ? "Bad Request" : "Internal Server Error";
  }
}

std::string closing_error_reply(const wire::ApiError& error, std::string_view allow_origin) {
  const int status = wire::http_status(error.kind);
  std::string body = wire::render_error(error) + "\n";
  std::string reply =
      "HTTP/1.1 " + std::to_string(status) + " " + reason_phrase(status) +
      "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\nX-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\n";
  if (!allow_origin.empty()) {
    reply += "Access-Control-Allow-Origin: " + std::string(allow_origin) + "\r\n";
  }
  return reply + "Connection: close\r\n\r\n" + body;
}

}  // namespace livechat::server::http
