#include "cli/logging.hpp"

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <iostream>
#include <memory>

#include "cli/json_log.hpp"

namespace livechat::cli {

void setup_logging(const std::string& level, const std::string& format, std::ostream& err) {
  // stderr keeps spdlog's own sink, which colours the level on a terminal; a captured stream
  // gets a logger of its own that is not registered, so it can be set up more than once.
  auto logger = &err == &std::cerr
                    ? spdlog::stderr_color_mt("livechat")
                    : std::make_shared<spdlog::logger>(
                          "livechat", std::make_shared<spdlog::sinks::ostream_sink_mt>(err, true));
  if (format == "json") {
    logger->set_formatter(make_json_log_formatter());
  } else {
    logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");
  }
  logger->set_level(spdlog::level::from_str(level));
  spdlog::set_default_logger(logger);
}

}  // namespace livechat::cli
