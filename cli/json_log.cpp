#include "cli/json_log.hpp"

#include <spdlog/formatter.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "wire/id.hpp"

namespace livechat::cli {
namespace {

// Formats each log record as one line of JSON.
class JsonLogFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
  std::unique_ptr<spdlog::formatter> clone() const override;
};

void JsonLogFormatter::format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
  using namespace std::chrono;
  auto micros = duration_cast<microseconds>(msg.time.time_since_epoch()).count();
  std::string time = wire::format_timestamp(micros);
  auto level = spdlog::level::to_string_view(msg.level);
  // In this order, as the README shows it; bytes that are not UTF-8 become U+FFFD.
  nlohmann::ordered_json line = {{"time", time},
                                 {"level", std::string(level.data(), level.size())},
                                 {"message", std::string(msg.payload.data(), msg.payload.size())}};
  std::string text =
      line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
  dest.append(text.data(), text.data() + text.size());
}

std::unique_ptr<spdlog::formatter> JsonLogFormatter::clone() const {
  return std::make_unique<JsonLogFormatter>();
}

}  // namespace

std::unique_ptr<spdlog::formatter> make_json_log_formatter() {
  return std::make_unique<JsonLogFormatter>();
}

}  // namespace livechat::cli
