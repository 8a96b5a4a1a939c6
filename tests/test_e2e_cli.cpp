// End to end through the command line: `livechat send` and `livechat listen` against real services.
// `listen` runs as a process of its own (it runs until stopped or signalled); every other command
// runs in this process, through livechat_main, with its output captured.
#include <signal.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <regex>

#include "tests/support/helpers.hpp"
#include "tests/support/in_process.hpp"
#include "tests/support/process.hpp"

using namespace livechat::test;
using json = nlohmann::json;

namespace {}  // namespace

TEST_CASE("livechat send and listen", "[e2e]") {
  LivechatServer server({"serve", "--port", "0", "--notify-port", "0"});
  const std::string message_url = server.url("message");
  const std::string notify_url = server.url("notification");

  SECTION("send prints the id; listen prints each message as one JSON line when piped") {
    Child listener({LIVECHAT_BINARY, "listen", "--url", notify_url, "--count", "2"});
    REQUIRE(listener.wait_until(
        [](auto&, auto& err) { return err.find("connected") != std::string::npos; }, 10s));
    auto first = run_in_process({"send", "--url", message_url, "--user", "ann", "hi"});
    CHECK(first.code == 0);
    CHECK(std::regex_match(first.out, std::regex(R"(\d{14}\.\d{6}\n)")));
    auto second = run_in_process({"send", "--room", "ops", "line two"},
                                 {{"MESSAGE_SERVICE_URL", message_url}});
    CHECK(second.code == 0);
    auto code = listener.wait_exit(10s);
    REQUIRE(code);
    CHECK(*code == 0);
    auto lines = listener.out_lines();
    REQUIRE(lines.size() == 2);
    auto a = json::parse(lines[0]);
    auto b = json::parse(lines[1]);
    CHECK(a["content"] == "hi");
    CHECK(a["user"] == "ann");
    CHECK(a["id"].get<std::string>() + "\n" == first.out);
    CHECK(b["room"] == "ops");
    CHECK(listener.err().find("connecting to") != std::string::npos);
  }

  SECTION("send with no text posts one message per line of stdin") {
    Child listener({LIVECHAT_BINARY, "listen", "--json", "--count", "3", "--url", notify_url});
    REQUIRE(listener.wait_until(
        [](auto&, auto& err) { return err.find("connected") != std::string::npos; }, 10s));
    auto sent = run_in_process({"send", "--url", message_url}, {}, "one\n\ntwo\r\nthree\n");
    CHECK(sent.code == 0);
    CHECK(split_lines(sent.out).size() == 3);
    REQUIRE(listener.wait_exit(10s) == 0);
    auto lines = listener.out_lines();
    REQUIRE(lines.size() == 3);
    CHECK(json::parse(lines[1])["content"] == "two");
  }

  SECTION("send --edit, --delete, --react and --unreact; listen prints each event") {
    Child listener({LIVECHAT_BINARY, "listen", "--json", "--count", "5", "--url", notify_url});
    REQUIRE(listener.wait_until(
        [](auto&, auto& err) { return err.find("connected") != std::string::npos; }, 10s));
    auto posted = run_in_process({"send", "--url", message_url, "--user", "ann", "helo"});
    REQUIRE(posted.code == 0);
    const std::string id = posted.out.substr(0, posted.out.size() - 1);
    auto edited =
        run_in_process({"send", "--url", message_url, "--user", "ann", "--edit", id, "hello"});
    CHECK(edited.code == 0);
    CHECK(edited.out == id + "\n");
    auto not_yours =
        run_in_process({"send", "--url", message_url, "--user", "bob", "--edit", id, "mine"});
    CHECK(not_yours.code == 1);
    CHECK(split_lines(not_yours.err).size() == 1);
    CHECK(not_yours.err.find("only ann") != std::string::npos);
    CHECK(
        run_in_process({"send", "--url", message_url, "--user", "bob", "--react", id, "👍"}).code ==
        0);
    CHECK(run_in_process({"send", "--url", message_url, "--user", "bob", "--unreact", id, "👍"})
              .code == 0);
    CHECK(run_in_process({"send", "--url", message_url, "--user", "ann", "--delete", id}).code ==
          0);
    auto twice = run_in_process({"send", "--url", message_url, "--delete", id, "--edit", id, "x"});
    CHECK(twice.code == 1);
    CHECK(twice.err == "livechat: error: give one of --edit, --delete, --react and --unreact\n");
    REQUIRE(listener.wait_exit(10s) == 0);
    auto lines = listener.out_lines();
    REQUIRE(lines.size() == 5);
    std::vector<std::string> types;
    for (const auto& line : lines) {
      types.push_back(json::parse(line).value("type", ""));
    }
    CHECK(types == std::vector<std::string>{"message", "edit", "reaction", "reaction", "delete"});
    CHECK(json::parse(lines[1])["content"] == "hello");
    CHECK(json::parse(lines[2])["emoji"] == "👍");
    CHECK(json::parse(lines[3])["action"] == "remove");
    CHECK(json::parse(lines[4])["message_id"] == id);
  }

  SECTION("listen --room follows only those rooms") {
    Child listener(
        {LIVECHAT_BINARY, "listen", "--room", "ops", "--count", "1", "--url", notify_url});
    REQUIRE(listener.wait_until(
        [](auto&, auto& err) { return err.find("connected") != std::string::npos; }, 10s));
    REQUIRE(run_in_process({"send", "--url", message_url, "--room", "general", "not this"}).code ==
            0);
    REQUIRE(run_in_process({"send", "--url", message_url, "--room", "ops", "this"}).code == 0);
    REQUIRE(listener.wait_exit(10s) == 0);
    auto lines = listener.out_lines();
    REQUIRE(lines.size() == 1);
    CHECK(json::parse(lines[0])["content"] == "this");
  }

  SECTION("a message the service refuses is one error line and exit 1") {
    auto result = run_in_process({"send", "--url", message_url, "--room", "bad room", "hi"});
    CHECK(result.code == 1);
    CHECK(result.out.empty());
    CHECK(split_lines(result.err).size() == 1);
    CHECK(result.err.find("livechat: error: the message service rejected the message") == 0);
    CHECK(result.err.find("room") != std::string::npos);
  }

  SECTION("listen exits 0 on SIGINT") {
    Child listener({LIVECHAT_BINARY, "listen", "--url", notify_url});
    REQUIRE(listener.wait_until(
        [](auto&, auto& err) { return err.find("connected") != std::string::npos; }, 10s));
    listener.signal(SIGINT);
    CHECK(listener.wait_exit(5s) == 0);
  }

  SECTION("listen with --max-retries 0 says so and exits non-zero when the stream ends") {
    Child listener({LIVECHAT_BINARY, "listen", "--max-retries", "0", "--url", notify_url});
    REQUIRE(listener.wait_until(
        [](auto&, auto& err) { return err.find("connected") != std::string::npos; }, 10s));
    REQUIRE(server.stop() == 0);
    auto code = listener.wait_exit(10s);
    REQUIRE(code);
    CHECK(*code == 1);
    CHECK(listener.err().find("livechat: error: the stream from") != std::string::npos);
  }
}

TEST_CASE("livechat command line errors", "[e2e]") {
  int dead = free_port();
  std::string dead_url = "http://127.0.0.1:" + std::to_string(dead);

  SECTION("send to a service that is not running") {
    auto result = run_in_process({"send", "--url", dead_url, "hi"});
    CHECK(result.code == 1);
    CHECK(split_lines(result.err).size() == 1);
    CHECK(result.err == "livechat: error: cannot reach the message service at " + dead_url +
                            " (connection refused): is livechat serve-message running?\n");
  }

  SECTION("listen to a service that is not running") {
    auto result = run_livechat({"listen", "--max-retries", "0", "--url", dead_url});
    CHECK(result.code == 1);
    CHECK(result.err.find("livechat: error: cannot reach the notification service at " +
                          dead_url) != std::string::npos);
  }

  SECTION("a malformed URL or option is one line and a non-zero exit") {
    auto bad_url = run_in_process({"send", "--url", "ftp://x", "hi"});
    CHECK(bad_url.code != 0);
    CHECK(bad_url.err.find("livechat: error: --url:") == 0);
    auto bad_port = run_in_process({"serve", "--port", "99999"});
    CHECK(bad_port.code != 0);
    CHECK(bad_port.err.find("livechat: error:") == 0);
    auto no_command = run_in_process({});
    CHECK(no_command.code != 0);
  }

  SECTION("--version prints the version to stdout and exits 0") {
    auto version = run_in_process({"--version"});
    CHECK(version.code == 0);
    CHECK(version.out == "livechat 0.1.0\n");
    CHECK(version.err.empty());
  }

  SECTION("--help of every subcommand shows each option's default") {
    for (const char* command : {"serve", "serve-message", "serve-notify", "send", "listen"}) {
      auto help = run_in_process({command, "--help"});
      CHECK(help.code == 0);
      CHECK(help.out.find("Usage: livechat " + std::string(command)) != std::string::npos);
    }
    auto serve = run_in_process({"serve", "--help"}).out;
    CHECK(serve.find("=8080") != std::string::npos);
    CHECK(serve.find("=8081") != std::string::npos);
    CHECK(serve.find("--heartbeat FLOAT:FLOAT in [0.01 - 3600]=15 ") != std::string::npos);
    auto message = run_in_process({"serve-message", "--help"}).out;
    CHECK(message.find("http://localhost:8081") != std::string::npos);
    CHECK(message.find("NOTIFICATION_SERVICE_URL") != std::string::npos);
  }
}
