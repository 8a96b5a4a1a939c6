#pragma once

#include <optional>
#include <string_view>

namespace livechat::wire {

// Compares two secrets in time that depends on their lengths only, not on where they differ.
bool constant_time_equal(std::string_view a, std::string_view b);

// Returns the token of an "Authorization: Bearer <token>" header value, if it is one.
std::optional<std::string_view> bearer_token(std::string_view authorization);

// Returns the client address a trusted proxy added to an X-Forwarded-For value: its last entry,
// without surrounding blanks; nothing if that is empty.
std::optional<std::string_view> forwarded_client(std::string_view x_forwarded_for);

// Tells whether a host to listen on is reachable from this machine only.
bool is_loopback_host(std::string_view host);

}  // namespace livechat::wire
