#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/process.hpp"

namespace livechat::test {

// Runs `livechat args...` to completion in this process (livechat_main, as the binary runs it)
// and returns its exit code and what it printed to stdout and stderr. The environment is what a
// Child gets: `env` entries are set for the run, and everything is put back after it.
Finished run_in_process(std::vector<std::string> args, std::map<std::string, std::string> env = {},
                        std::optional<std::string> stdin_text = std::nullopt);

}  // namespace livechat::test
