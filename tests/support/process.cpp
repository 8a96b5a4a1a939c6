#include "tests/support/process.hpp"

#include "tests/support/helpers.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <stdexcept>

extern char** environ;

namespace livechat::test {
namespace {

void read_all(int fd, std::mutex& mutex, std::condition_variable& changed, std::string& into,
              bool& closed) {
  char buffer[65536];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    std::lock_guard lock(mutex);
    if (n <= 0) {
      closed = true;
      changed.notify_all();
      break;
    }
    into.append(buffer, static_cast<std::size_t>(n));
    changed.notify_all();
  }
  ::close(fd);
}

}  // namespace

Child::Child(std::vector<std::string> argv, std::map<std::string, std::string> env,
             std::optional<std::string> stdin_text) {
  int out_pipe[2];
  int err_pipe[2];
  int in_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0 ||
      pipe2(in_pipe, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe failed");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);

  std::map<std::string, std::string> environment;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry(*e);
    auto eq = entry.find('=');
    if (eq != std::string::npos) {
      environment[entry.substr(0, eq)] = entry.substr(eq + 1);
    }
  }
  // Tests choose every address themselves, and keep nothing on disk unless they ask to.
  for (const char* name : {"PORT", "MESSAGE_SERVICE_URL", "NOTIFICATION_SERVICE_URL"}) {
    environment.erase(name);
  }
  environment["LIVECHAT_DB"] = ":memory:";
  for (auto& [key, value] : env) {
    environment[key] = value;
  }
  std::vector<std::string> env_strings;
  for (auto& [key, value] : environment) {
    env_strings.push_back(key + "=" + value);
  }
  std::vector<char*> envp;
  for (auto& s : env_strings) {
    envp.push_back(s.data());
  }
  envp.push_back(nullptr);
  std::vector<char*> args;
  for (auto& a : argv) {
    args.push_back(a.data());
  }
  args.push_back(nullptr);

  // The child starts with no signals blocked, whatever the test runner blocks.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  // ...and with SIGPIPE back at its default, though the tests ignore it.
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  posix_spawnattr_setsigdefault(&attr, &pipe);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  int rc = posix_spawn(&m_pid, args[0], &actions, &attr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  ::close(in_pipe[0]);
  if (rc != 0) {
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    ::close(in_pipe[1]);
    throw std::runtime_error(std::string("cannot start ") + argv[0] + ": " + std::strerror(rc));
  }
  if (stdin_text) {
    std::thread([fd = in_pipe[1], text = *stdin_text] {
      std::size_t done = 0;
      while (done < text.size()) {
        ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n <= 0) {
          break;
        }
        done += static_cast<std::size_t>(n);
      }
      ::close(fd);
    }).detach();
  } else {
    ::close(in_pipe[1]);
  }
  m_out_reader = std::thread(read_all, out_pipe[0], std::ref(m_mutex), std::ref(m_changed),
                             std::ref(m_out), std::ref(m_out_closed));
  m_err_reader = std::thread(read_all, err_pipe[0], std::ref(m_mutex), std::ref(m_changed),
                             std::ref(m_err), std::ref(m_err_closed));
}

Child::~Child() {
  if (!wait_exit(0ms)) {
    ::kill(m_pid, SIGKILL);
    wait_exit(10s);
  }
  m_out_reader.join();
  m_err_reader.join();
}

bool Child::wait_until(const std::function<bool(const std::string&, const std::string&)>& done,
                       std::chrono::milliseconds timeout) {
  std::unique_lock lock(m_mutex);
  return m_changed.wait_for(lock, timeout, [&] { return done(m_out, m_err); });
}

bool Child::wait_for_lines(std::size_t lines, std::chrono::milliseconds timeout) {
  return wait_until(
      [&](const std::string& out, const std::string&) {
        return static_cast<std::size_t>(std::count(out.begin(), out.end(), '\n')) >= lines;
      },
      timeout);
}

bool Child::wait_for_err(const std::string& text, std::chrono::milliseconds timeout) {
  return wait_until([&](const std::string&,
                        const std::string& err) { return err.find(text) != std::string::npos; },
                    timeout);
}

void Child::signal(int sig) {
  if (!m_status) {
    ::kill(m_pid, sig);
  }
}

std::optional<int> Child::wait_exit(std::chrono::milliseconds timeout) {
  if (m_status) {
    return m_status;
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(m_pid, &status, WNOHANG);
    if (r == m_pid) {
      m_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      // Let the readers see the end of the output.
      std::unique_lock lock(m_mutex);
      m_changed.wait_for(lock, 5s, [&] { return m_out_closed && m_err_closed; });
      return m_status;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return std::nullopt;
    }
    // waitpid has no timeout: poll the child's state at a short interval.
    std::this_thread::sleep_for(5ms);
  }
}

std::string Child::out() const {
  std::lock_guard lock(m_mutex);
  return m_out;
}

std::string Child::err() const {
  std::lock_guard lock(m_mutex);
  return m_err;
}

std::vector<std::string> Child::out_lines() const { return split_lines(out()); }

Finished run_livechat(std::vector<std::string> args, std::map<std::string, std::string> env,
                      std::optional<std::string> stdin_text, std::chrono::milliseconds timeout) {
  args.insert(args.begin(), LIVECHAT_BINARY);
  Child child(std::move(args), std::move(env), std::move(stdin_text));
  auto code = child.wait_exit(timeout);
  if (!code) {
    child.signal(SIGKILL);
    code = child.wait_exit(10s);
    return {-1, child.out(), child.err() + "\n(killed: did not finish in time)"};
  }
  return {*code, child.out(), child.err()};
}

LivechatServer::LivechatServer(std::vector<std::string> args,
                               std::map<std::string, std::string> env) {
  args.insert(args.begin(), LIVECHAT_BINARY);
  args.push_back("--host");
  args.push_back("127.0.0.1");
  std::size_t services = args[1] == "serve" ? 2 : 1;
  m_command = args[1];
  m_child = std::make_unique<Child>(std::move(args), std::move(env));
  static const std::regex k_listening(R"((message|notification) service listening on \S+:(\d+))");
  bool ready = m_child->wait_until(
      [&](const std::string&, const std::string& err) {
        std::size_t found = 0;
        for (auto it = std::sregex_iterator(err.begin(), err.end(), k_listening);
             it != std::sregex_iterator(); ++it) {
          m_ports[(*it)[1]] = std::stoi((*it)[2]);
          ++found;
        }
        return found >= services;
      },
      15s);
  if (!ready) {
    throw std::runtime_error("livechat did not start listening; it said:\n" + m_child->err());
  }
}

int LivechatServer::port(const std::string& service) const { return m_ports.at(service); }

std::string LivechatServer::url(const std::string& service) const {
  return "http://127.0.0.1:" + std::to_string(port(service));
}

LivechatServer::~LivechatServer() {
  if (!m_child || m_stopped) {
    return;  // moved from, or stopped or crashed by the test, which checked what it meant to
  }
  auto code = m_child->wait_exit(0ms);  // one that died by itself is checked as well
  if (!code) {
    code = stop();
  }
  if (std::uncaught_exceptions() > 0) {
    return;  // the test has already failed; its own failure is the one to read
  }
  if (code != 0) {
    auto said = m_child->err();
    if (said.size() > 4096) {
      said = "..." + said.substr(said.size() - 4096);
    }
    UNSCOPED_INFO("livechat " << m_command << " said:\n" << said);
  }
  const int exit_code = code.value_or(-1);  // -1: still running after 30 s, then killed
  CHECK(exit_code == 0);
}

std::optional<int> LivechatServer::stop(std::chrono::milliseconds timeout) {
  m_stopped = true;
  m_child->signal(SIGTERM);
  auto code = m_child->wait_exit(timeout);
  if (!code) {
    crash();
  }
  return code;
}

void LivechatServer::crash() {
  m_stopped = true;
  m_child->signal(SIGKILL);
  m_child->wait_exit(30s);
}

namespace {

// Ports a test chooses before it starts what listens on them (a service it restarts on the same
// port, a Redis) come from a block of ports of its own, outside the kernel's range for port 0,
// so that neither a parallel test's block nor a port-0 listener can take one in between. A
// block is held by an flock on a file of its own for as long as the test process lives.
class PortBlocks {
 public:
  int next() {
    std::lock_guard lock(m_mutex);
    for (;;) {
      if (m_next == m_end && !take_block()) {
        throw std::runtime_error("no free block of test ports is left");
      }
      int port = m_next++;
      if (bindable(port)) {
        return port;
      }
    }
  }

 private:
  static constexpr int k_block = 32;

  static bool bindable(int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return free;
  }

  // The ports below the kernel's range for port 0 (ip_local_port_range), from 10000 up.
  static std::pair<int, int> candidates() {
    int low = 32768;
    int high = 60999;
    std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range");
    range >> low >> high;
    if (low - 10000 >= 4 * k_block) {
      return {10000, low};
    }
    return {high + 1, 65536};
  }

  bool take_block() {
    auto [first, end] = candidates();
    std::error_code ignored;
    const auto dir = std::filesystem::temp_directory_path() / "livechat-test-ports";
    std::filesystem::create_directories(dir, ignored);
    const int blocks = (end - first) / k_block;
    // Start at a place of this process's own, so that parallel tests rarely try the same file.
    const int start = static_cast<int>(::getpid()) % blocks;
    for (int i = 0; i < blocks; ++i) {
      const int block = (start + i) % blocks;
      if (std::find(m_held.begin(), m_held.end(), block) != m_held.end()) {
        continue;
      }
      const auto path = dir / ("block-" + std::to_string(first + block * k_block));
      int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
      if (fd < 0) {
        continue;
      }
      if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        ::close(fd);
        continue;
      }
      m_held.push_back(block);  // the descriptor stays open: the lock lasts until exit
      m_next = first + block * k_block;
      m_end = m_next + k_block;
      return true;
    }
    return false;
  }

  std::mutex m_mutex;
  std::vector<int> m_held;
  int m_next = 0;
  int m_end = 0;
};

}  // namespace

int free_port() {
  static PortBlocks blocks;
  return blocks.next();
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

std::size_t Child::threads() const {
  std::size_t count = 0;
  const auto tasks = std::filesystem::path("/proc") / std::to_string(m_pid) / "task";
  for ([[maybe_unused]] const auto& task : std::filesystem::directory_iterator(tasks)) {
    ++count;
  }
  return count;
}

}  // namespace livechat::test
