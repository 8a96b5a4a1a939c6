#pragma once

#include <string>

#include "wire/result.hpp"

namespace livechat::cli {

// Returns an error's message for the terminal, with the flag that sets what it is about when its
// code has one ("... (--tls-cert)"): the code below cli names no flag, this table does.
std::string with_flag_hint(const wire::Error& error);

}  // namespace livechat::cli
