#pragma once

#include <cstddef>
#include <optional>

namespace livechat::wire {

// The process's open-files limit (RLIMIT_NOFILE), before and after raising it.
struct OpenFilesLimit {
  std::size_t before = 0;
  std::size_t now = 0;
};

// Raises the soft open-files limit to the hard one; returns the limit before and now in force, or
// nothing when the process cannot read it.
std::optional<OpenFilesLimit> raise_open_files_limit();

}  // namespace livechat::wire
