#include <spdlog/spdlog.h>
#include <algorithm>
#include <chrono>
#include <string>

#include "server/http/httplib_backend.hpp"
#include "server/http/server.hpp"

// The requests of one connection in turn, and the answers livechat writes itself to those
// rejected before cpp-httplib reads them.

namespace livechat::server::http {

namespace {

// Returns the reason phrase of a status livechat answers with outside cpp-httplib.
const char* reason_phrase(int status) {
  switch (status) {
    case 408:
      return "Request Timeout";
    case 413:
      return "Payload Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 431:
      return "Request Header Fields Too Large";
    case 501:
      return "Not Implemented";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Bad Request";
  }
}

}  // namespace

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

HttpServer::Served HttpServer::serve_requests(ConnectionStream& stream, bool may_park) {
  // Kept alive until the client closes it, goes quiet, or a request is rejected: nothing after a
  // rejected request is read as a request, since where it ends cannot be trusted. A client that
  // goes quiet for a moment waits for the rest of the keep-alive time in the idle set.
  const std::chrono::milliseconds keep_alive = m_options.keep_alive_timeout;
  const std::chrono::milliseconds wait =
      may_park ? std::min(m_options.idle_after, keep_alive) : keep_alive;
  while (!m_stopping.load()) {
    switch (stream.wait_for_request(wait, m_wake_fd)) {
      case ConnectionStream::Wait::request:
        break;
      case ConnectionStream::Wait::idle:
        return may_park ? Served::park : Served::close;
      case ConnectionStream::Wait::closed:
        return Served::close;
    }
    stream.begin_request();
    auto head = stream.read_head();
    if (!head) {
      return Served::close;  // gone before its head was whole
    }
    if (!*head) {
      const auto& error = head->error();
      spdlog::debug("request rejected before it was read: {}", error.message);
      std::string reply = closing_error_reply(error, allowed_origin(m_options.allowed_origins, ""));
      [[maybe_unused]] auto n = stream.write(reply.data(), reply.size());
      return Served::linger;
    }
    const wire::RequestHead& request = head->value();
    if (request.content_length > m_options.max_body_bytes) {
      reject_body(stream, request);
      return Served::linger;
    }
    if (request.chunked) {
      // Its end is cpp-httplib's to find, not counted here: the connection ends with it.
      stream.close_after();
    }
    const bool kept = m_backend->serve(stream);
    if (stream.handed_off()) {
      return Served::handed_off;  // a stream route took the connection over
    }
    if (stream.breach() != Breach::none) {
      if (!stream.answered()) {
        answer_breach(stream);  // cut off where cpp-httplib answers nothing
      }
      return Served::linger;
    }
    // A body not read to its end leaves bytes that are no request of the client's.
    const bool whole = stream.body_bytes_read() == request.content_length;
    if (!kept) {
      return whole ? Served::close : Served::linger;  // cpp-httplib closes it (Connection: close)
    }
    if (stream.closing() || !whole) {
      return Served::linger;
    }
  }
  return Served::close;
}

void HttpServer::reject_body(ConnectionStream& stream, const wire::RequestHead& request) {
  const auto started = std::chrono::steady_clock::now();
  const wire::ApiError error{wire::ApiErrorKind::too_large, "request body too large"};
  std::string path = request.target.substr(0, request.target.find('?'));
  if (m_on_rejected) {
    m_on_rejected(request.method, path, error);
  }
  std::string reply =
      closing_error_reply(error, allowed_origin(m_options.allowed_origins, request.origin));
  [[maybe_unused]] auto n = stream.write(reply.data(), reply.size());
  observe(request.method, path,
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
}

void HttpServer::on_rejected(RejectionObserver observer) { m_on_rejected = std::move(observer); }

void HttpServer::answer_breach(ConnectionStream& stream) {
  std::string reply = closing_error_reply(request_error(400));
  [[maybe_unused]] auto n = stream.write(reply.data(), reply.size());
}

}  // namespace livechat::server::http
