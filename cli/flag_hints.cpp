#include "cli/flag_hints.hpp"

#include <string_view>

namespace livechat::cli {
namespace {

struct FlagHint {
  std::string_view code;
  std::string_view hint;
};

// Error codes from wire/, server/ and client/ whose fix is a flag.
constexpr FlagHint k_flag_hints[] = {
    {"bad_tls_cert", "--tls-cert"},
    {"bad_tls_key", "--tls-key"},
    {"no_secret", "--secret or LIVECHAT_AUTH_SECRET"},
    {"untrusted_cert", "give its CA with --cacert"},
    {"bad_cacert", "--cacert"},
};

// The command that runs each service, asked about when it is unreachable.
std::string_view command_of(Service service) {
  switch (service) {
    case Service::message:
      return "serve-message";
    case Service::notify:
      return "serve-notify";
    case Service::none:
      break;
  }
  return {};
}

}  // namespace

std::string with_flag_hint(const wire::Error& error, Service service) {
  if (error.code == "unreachable" && service != Service::none) {
    return error.message + ": is livechat " + std::string(command_of(service)) + " running?";
  }
  for (const auto& entry : k_flag_hints) {
    if (entry.code == error.code) {
      return error.message + " (" + std::string(entry.hint) + ")";
    }
  }
  return error.message;
}

}  // namespace livechat::cli
