#include <unistd.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <iostream>
#include <vector>

#include "cli/command.hpp"

namespace livechat::cli {

int livechat_main(int argc, char** argv, const Streams& streams) {
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{
      "livechat: a real-time chat backend (message + notification services) and its "
      "tools, in one binary."};
  app.name("livechat");
  app.require_subcommand(1);
  app.set_version_flag("--version", "livechat 0.1.0");
  app.failure_message([](const CLI::App*, const CLI::Error& error) {
    return "livechat: error: " + std::string(error.what()) + " (see --help)\n";
  });

  // Every subcommand, in the order --help lists them.
  std::vector<Command> commands = {
      setup_serve(app),  setup_serve_message(app), setup_serve_notify(app), setup_send(app),
      setup_listen(app), setup_bench(app),         setup_token(app),
  };

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error, streams.out, streams.err);
  }
  try {
    for (auto& command : commands) {
      if (command.app->parsed()) {
        return command.run(streams);
      }
    }
  } catch (const std::exception& error) {
    streams.err << "livechat: error: " << error.what() << "\n";
    return 1;
  }
  return 1;
}

int livechat_main(int argc, char** argv) {
  return livechat_main(
      argc, argv,
      {std::cin, std::cout, std::cerr, isatty(STDOUT_FILENO) != 0, isatty(STDERR_FILENO) != 0});
}

}  // namespace livechat::cli
