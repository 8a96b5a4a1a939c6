#include <CLI/CLI.hpp>
#include <memory>

#include "cli/command.hpp"

namespace livechat::cli {

Command setup_bench(CLI::App& parent) {
  auto* app = parent.add_subcommand("bench", "Load both services and report what users see");
  return {app, [] { return 1; }};
}

}  // namespace livechat::cli
