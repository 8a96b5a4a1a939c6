#include "cli/open_files.hpp"

#include <spdlog/spdlog.h>

#include "wire/open_files.hpp"

namespace livechat::cli {

void ensure_open_files(std::size_t wanted) {
  auto limit = wire::raise_open_files_limit();
  if (!limit) {
    return;
  }
  if (limit->now > limit->before) {
    spdlog::info("open files limit raised from {} to {}", limit->before, limit->now);
  }
  if (limit->now < wanted) {
    spdlog::warn(
        "open files limit is {}, fewer than the {} this configuration may need; "
        "raise the hard limit (ulimit -Hn) or lower --max-clients",
        limit->now, wanted);
  }
}

}  // namespace livechat::cli
