#pragma once

#include <functional>
#include <iosfwd>
#include <stdexcept>
#include <string>

namespace CLI {
class App;
}

namespace livechat::cli {

// What a command reads and prints to: the process's own streams in the binary, captured ones in
// tests. Data goes to `out`, messages and logs to `err`.
struct Streams {
  std::istream& in;
  std::ostream& out;
  std::ostream& err;
  bool out_is_terminal = false;  // listen prints lines for people rather than NDJSON
  bool err_is_terminal = false;  // bench redraws a progress line
};

// A registered subcommand: its CLI11 node and what runs it once its flags are parsed.
struct Command {
  CLI::App* app = nullptr;
  std::function<int(const Streams&)> run;
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

// Parses the command line and runs the chosen subcommand on `streams`; returns the exit code.
int livechat_main(int argc, char** argv, const Streams& streams);

// Runs livechat_main on the process's stdin, stdout and stderr.
int livechat_main(int argc, char** argv);

}  // namespace livechat::cli
