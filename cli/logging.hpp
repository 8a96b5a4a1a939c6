#pragma once

#include <iosfwd>
#include <string>

namespace livechat::cli {

// Sends logs to `err` (stderr in the binary) at `level` (debug, info, ...), as text or, with
// `format` "json", one JSON object per line.
void setup_logging(const std::string& level, const std::string& format, std::ostream& err);

}  // namespace livechat::cli
