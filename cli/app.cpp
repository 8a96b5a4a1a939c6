#include <CLI/CLI.hpp>

#include <csignal>
#include <iostream>
#include <vector>

#include "cli/command.hpp"

namespace livechat::cli {

int livechat_main(int argc, char** argv) {
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
    return app.exit(error);
  }
  try {
    for (auto& command : commands) {
      if (command.app->parsed()) {
        return command.run();
      }
    }
  } catch (const std::exception& error) {
    std::cerr << "livechat: error: " << error.what() << "\n";
    return 1;
  }
  return 1;
}

}  // namespace livechat::cli
