#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <string>

#include "cli/command.hpp"
#include "cli/flag_hints.hpp"
#include "wire/token.hpp"

namespace livechat::cli {
namespace {

struct TokenOptions {
  std::string user;
  std::string ttl = "24h";
  std::string secret;
};

int run_token(const TokenOptions& o, const Streams& io) {
  auto ttl = wire::parse_ttl(o.ttl);
  if (!ttl) {
    throw UserError("--ttl: '" + o.ttl + "' is not a lifetime (like 90s, 30m, 24h or 7d)");
  }
  auto token = wire::mint_token(o.secret, o.user, *ttl);
  if (!token) {
    throw UserError(with_flag_hint(token.error()));
  }
  io.out << *token << "\n";
  return 0;
}

}  // namespace

Command setup_token(CLI::App& parent) {
  auto options = std::make_shared<TokenOptions>();
  auto* app = parent.add_subcommand(
      "token", "Print a user token (JWT, HS256) for services run with --auth-secret");
  app->add_option("--user", options->user, "Who the token speaks for")->required();
  app->add_option("--ttl", options->ttl, "How long it is valid: 90s, 30m, 24h, 7d")
      ->capture_default_str();
  app->add_option("--secret", options->secret, "The services' --auth-secret")
      ->envname("LIVECHAT_AUTH_SECRET")
      ->required();
  return {app, [options](const Streams& io) { return run_token(*options, io); }};
}

}  // namespace livechat::cli
