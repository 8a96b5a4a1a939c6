#pragma once

#include <string>

namespace livechat::cli {

// Sends logs to stderr at `level` (debug, info, ...), as text or, with `format` "json", one JSON
// object per line.
void setup_logging(const std::string& level, const std::string& format);

}  // namespace livechat::cli
