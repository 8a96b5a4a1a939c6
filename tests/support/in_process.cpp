#include "tests/support/in_process.hpp"

#include <cstdlib>
#include <sstream>
#include <utility>

#include "cli/command.hpp"

namespace livechat::test {
namespace {

// Sets environment variables (a value of nullopt unsets one) and restores them when destroyed.
class ScopedEnvironment {
 public:
  explicit ScopedEnvironment(const std::map<std::string, std::optional<std::string>>& changes) {
    for (const auto& [name, value] : changes) {
      const char* before = std::getenv(name.c_str());
      m_saved.emplace_back(name, before ? std::optional<std::string>(before) : std::nullopt);
      set(name, value);
    }
  }
  ~ScopedEnvironment() {
    for (const auto& [name, value] : m_saved) {
      set(name, value);
    }
  }
  ScopedEnvironment(const ScopedEnvironment&) = delete;
  ScopedEnvironment& operator=(const ScopedEnvironment&) = delete;

 private:
  static void set(const std::string& name, const std::optional<std::string>& value) {
    if (value) {
      ::setenv(name.c_str(), value->c_str(), 1);
    } else {
      ::unsetenv(name.c_str());
    }
  }

  std::vector<std::pair<std::string, std::optional<std::string>>> m_saved;
};

}  // namespace

Finished run_in_process(std::vector<std::string> args, std::map<std::string, std::string> env,
                        std::optional<std::string> stdin_text) {
  // As Child: tests choose every address themselves and keep nothing on disk unless they ask.
  std::map<std::string, std::optional<std::string>> changes = {
      {"PORT", std::nullopt},
      {"MESSAGE_SERVICE_URL", std::nullopt},
      {"NOTIFICATION_SERVICE_URL", std::nullopt},
      {"LIVECHAT_DB", ":memory:"},
  };
  for (auto& [name, value] : env) {
    changes[name] = value;
  }
  ScopedEnvironment environment(changes);

  args.insert(args.begin(), LIVECHAT_BINARY);
  std::vector<char*> argv;
  for (auto& arg : args) {
    argv.push_back(arg.data());
  }
  argv.push_back(nullptr);
  std::istringstream in(stdin_text.value_or(""));
  std::ostringstream out;
  std::ostringstream err;
  int code = cli::livechat_main(static_cast<int>(args.size()), argv.data(), {in, out, err});
  return {code, out.str(), err.str()};
}

}  // namespace livechat::test
