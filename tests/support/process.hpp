#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace livechat::test {

using namespace std::chrono_literals;

// A child process with its stdout and stderr collected as they arrive.
class Child {
 public:
  // Starts `argv` (argv[0] is the program path); `env` entries are added to the environment.
  Child(std::vector<std::string> argv, std::map<std::string, std::string> env = {},
        std::optional<std::string> stdin_text = std::nullopt);
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  // Waits until the collected output satisfies `done`, or the timeout passes.
  bool wait_until(const std::function<bool(const std::string& out, const std::string& err)>& done,
                  std::chrono::milliseconds timeout);

  // Waits until stderr holds `text`.
  bool wait_for_err(const std::string& text, std::chrono::milliseconds timeout = 10s);

  // Waits until stdout holds at least `lines` complete lines.
  bool wait_for_lines(std::size_t lines, std::chrono::milliseconds timeout);

  // Sends a signal.
  void signal(int sig);

  // Waits for the process to exit; returns its exit code (128+N if killed by signal N).
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);

  std::string out() const;
  std::string err() const;
  std::vector<std::string> out_lines() const;
  pid_t pid() const { return m_pid; }

  // Returns how many threads the process runs now (from /proc).
  std::size_t threads() const;

 private:
  void reap_output();

  pid_t m_pid = -1;
  std::optional<int> m_status;
  mutable std::mutex m_mutex;
  std::condition_variable m_changed;
  std::string m_out;
  std::string m_err;
  bool m_out_closed = false;
  bool m_err_closed = false;
  std::thread m_out_reader;
  std::thread m_err_reader;
};

// Runs `livechat args...` to completion (with a time limit) and returns it for inspection.
struct Finished {
  int code = -1;
  std::string out;
  std::string err;
};
Finished run_livechat(std::vector<std::string> args, std::map<std::string, std::string> env = {},
                      std::optional<std::string> stdin_text = std::nullopt,
                      std::chrono::milliseconds timeout = 20s);

// A running `livechat serve*` process on free loopback ports. When it goes out of scope it is
// stopped as an operator stops it (SIGTERM), and the test fails unless it exits 0 in time: a
// clean stop, with no leak or other sanitizer report, is part of every test that starts one.
class LivechatServer {
 public:
  // Starts `livechat <args> --host 127.0.0.1` and waits until each of its services listens.
  explicit LivechatServer(std::vector<std::string> args,
                          std::map<std::string, std::string> env = {});
  ~LivechatServer();
  LivechatServer(LivechatServer&&) = default;
  LivechatServer& operator=(LivechatServer&&) = delete;

  // Returns the port a service listens on: "message" or "notification".
  int port(const std::string& service) const;
  std::string url(const std::string& service) const;

  // Stops it with SIGTERM and returns its exit code (the test checks it).
  std::optional<int> stop(std::chrono::milliseconds timeout = 30s);

  // Kills it with SIGKILL, as a crash or a pulled plug would, and waits until it is gone.
  void crash();

  Child& process() { return *m_child; }

 private:
  std::unique_ptr<Child> m_child;
  std::map<std::string, int> m_ports;
  std::string m_command;
  bool m_stopped = false;
};

// Returns a free TCP port of 127.0.0.1 that no other test process and no port-0 listener can
// be handed, for what must listen on a port chosen beforehand (a restart on the same port, a
// Redis). Services a test starts once take port 0 and report theirs.
int free_port();

// Polls `condition` until it holds or the timeout passes.
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout = 10s);

}  // namespace livechat::test
