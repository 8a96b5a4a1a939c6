#pragma once

#include <string>

#include "wire/url.hpp"

namespace CLI {
class App;
}

namespace livechat::cli {

inline constexpr int k_default_message_port = 8080;
inline constexpr int k_default_notify_port = 8081;
inline const std::string k_default_message_url =
    "http://localhost:" + std::to_string(k_default_message_port);
inline const std::string k_default_notify_url =
    "http://localhost:" + std::to_string(k_default_notify_port);

// Parses --redis, or throws a UserError that says what is wrong with it.
wire::RedisAddress require_redis(const std::string& url);

// Parses a URL given on the command line, or throws a UserError naming the option; `cacert` (a
// PEM file, checked to be readable) is the CA an https:// URL is trusted by.
wire::Endpoint require_endpoint(const std::string& url, const std::string& option,
                                const std::string& cacert = {});

// Adds --cacert (LIVECHAT_CACERT) for the https:// URLs a command is given.
void add_cacert_option(CLI::App& app, std::string& cacert);

}  // namespace livechat::cli
