#pragma once

#include <csignal>
#include <functional>

namespace livechat::cli {

// Blocks SIGINT and SIGTERM (and with `reload`, SIGHUP) in every thread started after it, to be
// taken by wait().
class StopSignals {
 public:
  explicit StopSignals(bool reload = false);
  // Waits for SIGINT or SIGTERM and returns its name; calls `on_reload` for each SIGHUP meanwhile.
  const char* wait(const std::function<void()>& on_reload = {});

 private:
  sigset_t m_set;
};

}  // namespace livechat::cli
