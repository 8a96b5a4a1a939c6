#pragma once

#include <functional>
#include <stdexcept>
#include <string>

namespace CLI {
class App;
}

namespace livechat::cli {

// A registered subcommand: its CLI11 node and what runs it once its flags are parsed.
struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

// Thrown for what the user must fix; printed once as "livechat: error: <what>".
struct UserError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

Command setup_serve_message(CLI::App& parent);
Command setup_serve_notify(CLI::App& parent);
Command setup_serve(CLI::App& parent);
Command setup_send(CLI::App& parent);
Command setup_listen(CLI::App& parent);
Command setup_bench(CLI::App& parent);
Command setup_token(CLI::App& parent);

// Parses the command line and runs the chosen subcommand; returns the exit code.
int livechat_main(int argc, char** argv);

}  // namespace livechat::cli
