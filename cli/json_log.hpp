#pragma once

#include <spdlog/formatter.h>

#include <memory>

namespace livechat::cli {

// Formats each log record as one line of JSON: {"time":"...Z","level":"info","message":"..."}.
class JsonLogFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
  std::unique_ptr<spdlog::formatter> clone() const override;
};

}  // namespace livechat::cli
