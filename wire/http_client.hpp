#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

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

// Returns the stable code of a transport error: "untrusted_cert" (the server's certificate is not
// trusted), "bad_cacert" (the CA file does not load), "tls_failed" (the TLS handshake failed: the
// peer answered, but not in TLS that fits) or "unreachable" (everything else).
std::string transport_code(httplib::Error error);

// Tells whether an error code is one that transport_code() returns: the request got no answer.
bool is_transport_code(std::string_view code);

// Describes a transport error for a person ("connection refused", "timed out", ...).
std::string describe(httplib::Error error);

}  // namespace livechat::wire
