#include "wire/open_files.hpp"

#include <sys/resource.h>

namespace livechat::wire {

std::optional<OpenFilesLimit> raise_open_files_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return std::nullopt;
  }
  OpenFilesLimit result{static_cast<std::size_t>(limit.rlim_cur),
                        static_cast<std::size_t>(limit.rlim_cur)};
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) {
      result.now = static_cast<std::size_t>(raised.rlim_cur);
    }
  }
  return result;
}

}  // namespace livechat::wire
