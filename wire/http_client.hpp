#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "wire/url.hpp"

namespace httplib {
class Client;
enum class Error;
}  // namespace httplib

namespace livechat::wire {

// Timeouts of a client connection to a livechat service.
struct ClientTimeouts {
  std::chrono::milliseconds connect{3000};
  std::chrono::milliseconds read{5000};
  std::chrono::milliseconds write{5000};
};

// Makes a kept-alive HTTP client for an endpoint, with TCP_NODELAY and the given timeouts.
std::unique_ptr<httplib::Client> make_client(const Endpoint& endpoint,
                                             const ClientTimeouts& timeouts = {});

// Describes a transport error for a person ("connection refused", "timed out", ...).
std::string describe(httplib::Error error);

}  // namespace livechat::wire
