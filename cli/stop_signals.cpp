#include "cli/stop_signals.hpp"

#include <pthread.h>

namespace livechat::cli {

StopSignals::StopSignals(bool reload) {
  sigemptyset(&m_set);
  sigaddset(&m_set, SIGINT);
  sigaddset(&m_set, SIGTERM);
  if (reload) {
    // Only then: otherwise SIGHUP keeps its default, and a service started from a terminal
    // still ends with it.
    sigaddset(&m_set, SIGHUP);
  }
  pthread_sigmask(SIG_BLOCK, &m_set, nullptr);
}

const char* StopSignals::wait(const std::function<void()>& on_reload) {
  for (;;) {
    int signal = 0;
    sigwait(&m_set, &signal);
    if (signal != SIGHUP) {
      return signal == SIGINT ? "SIGINT" : "SIGTERM";
    }
    if (on_reload) {
      on_reload();
    }
  }
}

}  // namespace livechat::cli
