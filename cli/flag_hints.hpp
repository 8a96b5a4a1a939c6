#pragma once

#include <string>

#include "wire/result.hpp"

namespace livechat::cli {

// The livechat service an error is about, when it is one a command of this CLI runs.
enum class Service { none, message, notify };

// Returns an error's message for the terminal, with the flag that sets what it is about when its
// code has one ("... (--tls-cert)"), or, when `service` could not be reached, a question whether
// the command that runs it is running: the code below cli names no flag or command, this does.
std::string with_flag_hint(const wire::Error& error, Service service = Service::none);

}  // namespace livechat::cli
