#include "cli/tls_reload.hpp"

#include <spdlog/spdlog.h>

#include "cli/flag_hints.hpp"
#include "wire/tls.hpp"

namespace livechat::cli {

std::function<void()> tls_reloader(const std::string& cert, const std::string& key,
                                   std::vector<server::http::HttpServer*> servers) {
  return [cert, key, servers = std::move(servers)] {
    auto tls = wire::TlsContext::load(cert, key);
    if (!tls) {
      spdlog::error("SIGHUP: keeping the current certificate: {}", with_flag_hint(tls.error()));
      return;
    }
    for (auto* server : servers) {
      server->set_tls(*tls);
    }
    spdlog::info("SIGHUP: new connections get the certificate now in {}", cert);
  };
}

}  // namespace livechat::cli
