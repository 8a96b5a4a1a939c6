#include <httplib.h>
#include <spdlog/spdlog.h>
#include <algorithm>
#include <limits>
#include <set>
#include <utility>

#include "server/http/httplib_backend.hpp"
#include "server/http/server.hpp"

// The routes side of HttpServer: how cpp-httplib answers (headers, JSON errors, 100 Continue),
// the GET, POST and stream routes the services register, and the request metrics.

namespace livechat::server::http {

namespace {

// When the calling thread's current request was routed (zero: not yet, or already logged).
thread_local std::chrono::steady_clock::time_point t_routed;

}  // namespace

// Returns the error a request that could not be read gets: the limit it broke, if it broke one.
wire::ApiError request_error(int status) {
  const ConnectionStream* stream = current_stream();
  Breach breach = stream != nullptr ? stream->breach() : Breach::none;
  if (breach == Breach::too_slow) {
    return {wire::ApiErrorKind::request_timeout, "the request did not arrive in time"};
  }
  if (breach == Breach::too_large) {
    return {wire::ApiErrorKind::too_large, "request body too large"};
  }
  return wire::error_for_status(status);
}

void HttpServer::configure_backend() {
  auto& server = *m_backend;
  server.set_socket_options([](socket_t fd) {
    int yes = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  server.set_tcp_nodelay(true);
  server.set_keep_alive_max_count(std::numeric_limits<int>::max());
  server.set_keep_alive_timeout(m_options.keep_alive_timeout.count());
  server.set_read_timeout(m_options.read_timeout.count());
  server.set_write_timeout(m_options.write_timeout.count());
  server.set_payload_max_length(m_options.max_body_bytes);

  server.set_logger(
      [this](const httplib::Request& req, const httplib::Response& res) { finished(req, res); });
  server.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    t_routed = std::chrono::steady_clock::now();
    if (const ConnectionStream* stream = current_stream(); stream != nullptr && stream->closing()) {
      res.set_header("Connection", "close");
    }
    add_security_headers(res);
    add_cors_headers(req, res, m_options.allowed_origins);
    if (req.method == "OPTIONS") {
      res.status = 204;
      res.set_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
      res.set_header("Access-Control-Allow-Headers",
                     "Content-Type, Authorization, Last-Event-ID, Cache-Control");
      res.set_header("Access-Control-Max-Age", "86400");
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  // Every error leaves as JSON, also those cpp-httplib makes itself (404, 413, 400).
  server.set_error_handler(httplib::Server::HandlerWithResponse(
      [this](const httplib::Request& req, httplib::Response& res) {
        add_security_headers(res);
        add_cors_headers(req, res, m_options.allowed_origins);
        if (res.body.empty()) {
          // cpp-httplib rejected the request itself: whatever it did not read of it goes with
          // the connection (a miss on the route table is an ordinary answer).
          if (res.status != 404) {
            close_after(res);
          }
          send_error(res, request_error(res.status));
        }
        return httplib::Server::HandlerResponse::Handled;
      }));
  server.set_expect_100_continue_handler(
      [this](const httplib::Request& req, httplib::Response& res) {
        return expect_continue(req, res);
      });
  server.set_exception_handler(
      [](const httplib::Request& req, httplib::Response& res, std::exception_ptr error) {
        std::string what = "unknown";
        try {
          std::rethrow_exception(error);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        spdlog::error("{} {}: {}", req.method, req.path, what);
        send_error(res, {wire::ApiErrorKind::internal, "internal error"});
      });
}

int HttpServer::expect_continue(const httplib::Request& req, httplib::Response& res) const {
  // A gate rejects before the client is told to send its body.
  auto it = m_gates.find(req.path);
  if (it != m_gates.end() && req.method == "POST" && reject_at_gate(it->second, req, res)) {
    return res.status;
  }
  return 100;
}

void HttpServer::get(const std::string& path, Handler handler) {
  m_backend->Get(path, std::move(handler));
}

void HttpServer::post(const std::string& path, BodyHandler handler, PostOptions options) {
  if (options.gate) {
    m_gates.emplace(path, options);  // asked first when a client waits for 100 Continue
  }
  m_backend->Post(path, [handler = std::move(handler), options = std::move(options),
                         max_body = m_options.max_body_bytes](
                            const httplib::Request& req, httplib::Response& res,
                            const httplib::ContentReader& reader) {
    if (reject_at_gate(options, req, res)) {
      return;
    }
    std::string body;
    bool too_large = false;
    bool complete = reader([&](const char* data, std::size_t length) {
      too_large = body.size() + length > max_body;  // a chunked body has no length first
      body.append(data, too_large ? 0 : length);
      return !too_large;
    });
    if (!complete) {
      close_after(res);  // what is left of the body must not be read as a request
      auto error = request_error(res.status == 413 || too_large ? 413 : 400);
      if (options.rejected) {
        options.rejected(req, res, error);
      } else {
        send_error(res, error);
      }
      return;
    }
    handler(req, res, body);
  });
}

void HttpServer::stream(const std::string& path, std::string content_type, StreamHandler handler) {
  m_backend->Get(path, [this, handler = std::move(handler), content_type = std::move(content_type)](
                           const httplib::Request& req, httplib::Response& res) {
    StreamBody body = handler(req, res);
    if (!body) {
      return;  // answered with an error
    }
    res.set_chunked_content_provider(
        content_type, [this, body = std::move(body)](std::size_t, httplib::DataSink& sink) {
          ConnectionStream* connection = current_stream();
          if (connection == nullptr) {
            return false;
          }
          body(ResponseStream(
              [&sink](std::string_view bytes) { return sink.write(bytes.data(), bytes.size()); },
              [this, connection] { return hand_off(*connection); }));
          return false;  // ends the response here; a connection not handed off closes
        });
  });
}

bool HttpServer::reject_at_gate(const PostOptions& options, const httplib::Request& req,
                                httplib::Response& res) {
  if (!options.gate) {
    return false;
  }
  auto rejection = options.gate(req);
  if (!rejection) {
    return false;
  }
  close_after(res);
  if (options.rejected) {
    options.rejected(req, res, *rejection);
  } else {
    send_error(res, *rejection);
  }
  return true;
}

void HttpServer::close_after(httplib::Response& response) {
  if (ConnectionStream* stream = current_stream(); stream != nullptr) {
    stream->close_after();
  }
  if (!response.has_header("Connection")) {
    response.set_header("Connection", "close");
  }
}

std::string allowed_origin(const std::vector<std::string>& allowed_origins,
                           std::string_view origin) {
  if (std::find(allowed_origins.begin(), allowed_origins.end(), "*") != allowed_origins.end()) {
    return "*";
  }
  if (!origin.empty() &&
      std::find(allowed_origins.begin(), allowed_origins.end(), origin) != allowed_origins.end()) {
    return std::string(origin);
  }
  return {};
}

void add_cors_headers(const httplib::Request& request, httplib::Response& response,
                      const std::vector<std::string>& allowed_origins) {
  if (response.has_header("Access-Control-Allow-Origin")) {
    return;
  }
  std::string allowed = allowed_origin(allowed_origins, request.get_header_value("Origin"));
  if (!allowed.empty()) {
    response.set_header("Access-Control-Allow-Origin", allowed);
  }
  if (allowed != "*") {
    response.set_header("Vary", "Origin");
  }
  response.set_header("Access-Control-Expose-Headers", "Retry-After");
}

void add_security_headers(httplib::Response& response) {
  if (response.has_header("X-Content-Type-Options")) {
    return;
  }
  response.set_header("X-Content-Type-Options", "nosniff");
  response.set_header("Referrer-Policy", "no-referrer");
}

void send_error(httplib::Response& response, const wire::ApiError& error) {
  if (wire::http_status(error.kind) == 401) {
    response.set_header("WWW-Authenticate", "Bearer");
  }
  send_json(response, wire::http_status(error.kind), wire::render_error(error));
}

void send_json(httplib::Response& response, int status, const std::string& body) {
  response.status = status;
  response.set_content(body, "application/json");
}

void HttpServer::finished(const httplib::Request& req, const httplib::Response& res) {
  auto routed = std::exchange(t_routed, std::chrono::steady_clock::time_point{});
  const bool stream = res.get_header_value("Content-Type") == "text/event-stream";
  if (routed == std::chrono::steady_clock::time_point{} || stream) {
    spdlog::debug("{} {} {} from {}{}", req.method, req.path, res.status, req.remote_addr,
                  stream ? " (stream)" : "");
    return;
  }
  auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - routed).count();
  observe(req.method, req.path, seconds);
  spdlog::debug("{} {} {} {:.2f} ms from {}", req.method, req.path, res.status, seconds * 1000,
                req.remote_addr);
}

void HttpServer::observe(const std::string& method, const std::string& path, double seconds) {
  // Paths outside the API share one series, so scans for random paths add none.
  static const std::set<std::string, std::less<>> k_paths = {"/",       "/messages", "/events",
                                                             "/notify", "/health",   "/metrics"};
  const std::string& series = k_paths.count(path) ? path : "other";
  wire::metrics::Histogram* histogram = nullptr;
  {
    std::lock_guard lock(m_latency_mutex);
    auto& slot = m_latency[{method, series}];
    if (!slot) {
      slot = std::make_unique<wire::metrics::Histogram>();
    }
    histogram = slot.get();
  }
  histogram->observe(seconds);
}

void HttpServer::render_request_metrics(wire::metrics::Text& text, std::string_view service) const {
  constexpr std::string_view k_name = "livechat_http_request_duration_seconds";
  text.declare(k_name, "Time from routing a request to its answer (streams left out)", "histogram");
  std::lock_guard lock(m_latency_mutex);
  for (const auto& [key, histogram] : m_latency) {
    histogram->render(text, k_name,
                      wire::metrics::label("service", service) + "," +
                          wire::metrics::label("method", key.first) + "," +
                          wire::metrics::label("path", key.second));
  }
}

}  // namespace livechat::server::http
