#pragma once

#include <memory>

namespace spdlog {
class formatter;
}  // namespace spdlog

namespace livechat::cli {

// Returns a formatter that writes each log record as one line of JSON:
// {"time":"...Z","level":"info","message":"..."}.
std::unique_ptr<spdlog::formatter> make_json_log_formatter();

}  // namespace livechat::cli
