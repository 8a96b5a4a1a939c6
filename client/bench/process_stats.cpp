#include "client/bench/process_stats.hpp"

#include <dirent.h>
#include <unistd.h>

#include <charconv>
#include <fstream>
#include <sstream>
#include <string>

namespace livechat::client::bench {

std::optional<int> find_listening_pid(int port) {
  // /proc/net/tcp: "sl local_address rem_address st ... inode", ports in hex, 0A = LISTEN.
  std::string inode;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);
    while (inode.empty() && std::getline(in, line)) {
      std::istringstream fields(line);
      std::string sl, local, remote, state, queues, timer, retransmits, uid, timeout, node;
      fields >> sl >> local >> remote >> state >> queues >> timer >> retransmits >> uid >>
          timeout >> node;
      auto colon = local.rfind(':');
      if (state != "0A" || colon == std::string::npos) {
        continue;
      }
      int local_port = 0;
      std::from_chars(local.data() + colon + 1, local.data() + local.size(), local_port, 16);
      if (local_port == port && node != "0") {
        inode = node;
      }
    }
  }
  if (inode.empty()) {
    return std::nullopt;
  }
  std::string wanted = "socket:[" + inode + "]";
  std::optional<int> found;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) {
    return std::nullopt;
  }
  while (dirent* entry = ::readdir(proc)) {
    int pid = 0;
    std::string_view name = entry->d_name;
    auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), pid);
    if (ec != std::errc{} || end != name.data() + name.size()) {
      continue;
    }
    std::string fd_dir = "/proc/" + std::string(name) + "/fd";
    DIR* fds = ::opendir(fd_dir.c_str());
    if (fds == nullptr) {
      continue;
    }
    char target[64];
    while (dirent* fd = ::readdir(fds)) {
      std::string path = fd_dir + "/" + fd->d_name;
      auto n = ::readlink(path.c_str(), target, sizeof target);
      if (n > 0 && std::string_view(target, static_cast<std::size_t>(n)) == wanted) {
        found = pid;
        break;
      }
    }
    ::closedir(fds);
    if (found) {
      break;
    }
  }
  ::closedir(proc);
  return found;
}

std::optional<ServerSample> sample_process(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  if (!in) {
    return std::nullopt;
  }
  ServerSample sample;
  sample.pid = pid;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string name;
    fields >> name;
    if (name == "VmRSS:") {
      double kb = 0;
      fields >> kb;
      sample.peak_rss_mb = kb / 1024.0;
      sample.start_rss_mb = sample.peak_rss_mb;
    } else if (name == "Threads:") {
      fields >> sample.peak_threads;
    }
  }
  return sample;
}

}  // namespace livechat::client::bench
