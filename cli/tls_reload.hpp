#pragma once

#include <functional>
#include <string>
#include <vector>

#include "server/http/server.hpp"

namespace livechat::cli {

// Returns what SIGHUP does to services with --tls-cert: load the certificate and key again and
// give them to `servers` for new connections; a pair that does not load is logged and the
// current one kept.
std::function<void()> tls_reloader(const std::string& cert, const std::string& key,
                                   std::vector<server::http::HttpServer*> servers);

}  // namespace livechat::cli
