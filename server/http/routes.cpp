#include <httplib.h>
#include <algorithm>
#include <set>
#include <utility>

#include "server/http/event_loop.hpp"
#include "server/http/server.hpp"

// The routes side of HttpServer: the GET, POST and stream routes the services register, the
// headers and JSON errors of every answer, and the request metrics.

namespace livechat::server::http {

void HttpServer::get(const std::string& path, Handler handler) {
  m_get_routes[path].get = std::move(handler);
}

void HttpServer::post(const std::string& path, BodyHandler handler, PostOptions options) {
  Route& route = m_post_routes["POST " + path];
  route.post = std::move(handler);
  route.options = std::move(options);
}

void HttpServer::post_deferred(const std::string& path, DeferredBodyHandler handler,
                               PostOptions options) {
  deferred("POST", path, std::move(handler), std::move(options));
}

void HttpServer::deferred(const std::string& method, const std::string& path,
                          DeferredBodyHandler handler, PostOptions options) {
  Route route;
  route.deferred = std::move(handler);
  route.options = std::move(options);
  if (!path.empty() && path.back() == '/') {
    m_prefix_routes.emplace_back(method + " " + path, std::move(route));
  } else {
    m_post_routes[method + " " + path] = std::move(route);
  }
}

void HttpServer::stream(const std::string& path, std::string content_type, StreamHandler handler) {
  Route& route = m_get_routes[path];
  route.stream = std::move(handler);
  route.content_type = std::move(content_type);
}

void HttpServer::on_rejected(RejectionObserver observer) { m_on_rejected = std::move(observer); }

const HttpServer::Route* HttpServer::route(std::string_view method, std::string_view path) const {
  // HEAD is answered by a GET route; a method and path of no route find none (a 404).
  if (method == "GET" || method == "HEAD") {
    auto it = m_get_routes.find(path);
    return it == m_get_routes.end() ? nullptr : &it->second;
  }
  std::string key;
  key.reserve(method.size() + 1 + path.size());
  key.append(method).append(" ").append(path);
  if (auto it = m_post_routes.find(key); it != m_post_routes.end()) {
    return &it->second;
  }
  for (const auto& [prefix, route] : m_prefix_routes) {
    if (key.size() > prefix.size() && key.compare(0, prefix.size(), prefix) == 0) {
      return &route;
    }
  }
  return nullptr;
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

void HttpServer::observe(const std::string& method, const std::string& path, double seconds) {
  // Paths outside the API share one series, so scans for random paths add none.
  static const std::set<std::string, std::less<>> k_paths = {"/",       "/messages", "/events",
                                                             "/notify", "/health",   "/metrics"};
  std::string series = k_paths.count(path) ? path : "other";
  if (path.rfind("/messages/", 0) == 0) {
    series = path.find("/reactions/") != std::string::npos ? "/messages/{id}/reactions/{emoji}"
                                                           : "/messages/{id}";
  }
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
