#include "cli/addresses.hpp"

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "cli/command.hpp"

namespace livechat::cli {

wire::RedisAddress require_redis(const std::string& url) {
  auto address = wire::parse_redis_url(url);
  if (!address) {
    throw UserError("--redis: " + address.error().message);
  }
  return *address;
}

wire::Endpoint require_endpoint(const std::string& url, const std::string& option,
                                const std::string& cacert) {
  auto endpoint = wire::parse_endpoint(url);
  if (!endpoint) {
    throw UserError(option + ": " + endpoint.error().message);
  }
  if (!cacert.empty()) {
    if (std::FILE* file = std::fopen(cacert.c_str(), "r")) {
      std::fclose(file);
    } else {
      throw UserError("--cacert " + cacert + ": " + std::strerror(errno));
    }
    endpoint->ca_file = cacert;
  }
  return *endpoint;
}

void add_cacert_option(CLI::App& app, std::string& cacert) {
  app.add_option("--cacert", cacert,
                 "PEM file of the CA(s) to trust for https:// URLs (default: the system's)")
      ->envname("LIVECHAT_CACERT");
}

}  // namespace livechat::cli
