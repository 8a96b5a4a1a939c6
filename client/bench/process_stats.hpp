#pragma once

#include <cstddef>
#include <optional>

namespace livechat::client::bench {

// Peak figures of a local server process, sampled during the run.
struct ServerSample {
  int pid = 0;
  double start_rss_mb = 0;  // before the streams opened (memory a process keeps from before)
  double peak_rss_mb = 0;
  std::size_t peak_threads = 0;
};

// Finds the process listening on a local TCP port (through /proc), if this user may see it.
std::optional<int> find_listening_pid(int port);

// Reads a process's resident memory (MB, as peak and start) and thread count from /proc.
std::optional<ServerSample> sample_process(int pid);

}  // namespace livechat::client::bench
