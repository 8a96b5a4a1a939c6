// End to end: the options and defaults README.md and API.md promise, checked against real services.
#include <signal.h>

#include <httplib.h>

#include <filesystem>
#include <regex>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/support/helpers.hpp"
#include "tests/support/in_process.hpp"
#include "tests/support/process.hpp"
#include "tests/support/sse_client.hpp"

using namespace livechat::test;
using json = nlohmann::json;

namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A `livechat` service started through env(1), so that it can run in a directory of its own and
// without variables the test harness sets or inherits.
class Service {
 public:
  Service(std::vector<std::string> args, std::vector<std::string> unset,
          std::map<std::string, std::string> env = {}, const std::string& dir = "") {
    std::vector<std::string> argv = {"/usr/bin/env"};
    for (const auto& name : unset) {
      argv.insert(argv.end(), {"-u", name});
    }
    if (!dir.empty()) {
      argv.insert(argv.end(), {"-C", dir});
    }
    argv.push_back(LIVECHAT_BINARY);
    argv.insert(argv.end(), args.begin(), args.end());
    const std::size_t services = args[0] == "serve" ? 2 : 1;
    m_child = std::make_unique<Child>(argv, std::move(env));
    static const std::regex k_listening(R"((message|notification) service listening on \S+:(\d+))");
    bool ready = m_child->wait_until(
        [&](const std::string&, const std::string& err) {
          for (auto it = std::sregex_iterator(err.begin(), err.end(), k_listening);
               it != std::sregex_iterator(); ++it) {
            m_ports[(*it)[1]] = std::stoi((*it)[2]);
          }
          return m_ports.size() >= services;
        },
        15s);
    if (!ready) {
      throw std::runtime_error("livechat did not start listening; it said:\n" + m_child->err());
    }
  }

  int port(const std::string& service) const { return m_ports.at(service); }
  Child& process() { return *m_child; }

  std::optional<int> stop() {
    m_child->signal(SIGTERM);
    return m_child->wait_exit(10s);
  }

 private:
  std::unique_ptr<Child> m_child;
  std::map<std::string, int> m_ports;
};

// Waits until the notification service on `port` counts `count` streams (a stream is counted
// once its subscription is in place, just after its `connected` event is sent).
bool counts_streams(int port, int count) {
  httplib::Client client("127.0.0.1", port);
  return eventually([&] {
    auto health = client.Get("/health");
    return health && json::parse(health->body)["clients"] == count;
  });
}

// Posts a JSON body to the message service on `port`.
httplib::Result post_json(int port, const std::string& body, const httplib::Headers& headers = {}) {
  httplib::Client client("127.0.0.1", port);
  return client.Post("/messages", headers, body, "application/json");
}

// Returns the notification URL the page of the message service on `port` is pointed at.
std::string page_notify_url(int port) {
  httplib::Client client("127.0.0.1", port);
  auto page = client.Get("/");
  REQUIRE(page);
  static const std::regex k_config(R"re("notify_url":"([^"]*)")re");
  std::smatch match;
  REQUIRE(std::regex_search(page->body, match, k_config));
  return match[1];
}

}  // namespace

// Promised in README "Messages are kept" (`livechat.db` in the working directory by default,
// still there after a restart) and "What runs" (`--db`, default `livechat.db`).
TEST_CASE("without --db, messages are kept in livechat.db in the working directory", "[e2e]") {
  TempDir dir;
  const auto db = dir.path() / "livechat.db";
  LivechatServer notify({"serve-notify", "--port", "0"});
  auto start = [&](const std::string& command) {
    std::vector<std::string> args = {command, "--host", "127.0.0.1", "--port", "0"};
    if (command == "serve") {
      args.insert(args.end(), {"--notify-port", "0"});
    } else {
      args.insert(args.end(), {"--notify-url", notify.url("notification")});
    }
    return std::make_unique<Service>(args, std::vector<std::string>{"LIVECHAT_DB"},
                                     std::map<std::string, std::string>{}, dir.path().string());
  };
  for (const std::string command : {"serve", "serve-message"}) {
    DYNAMIC_SECTION(command) {
      std::vector<std::string> ids;
      {
        auto first = start(command);
        CHECK(first->process().wait_for_err("messages are kept in livechat.db (0 stored)"));
        ids.push_back(post_message(first->port("message"), "one"));
        ids.push_back(post_message(first->port("message"), "two"));
        REQUIRE(first->stop() == 0);
      }
      CHECK(std::filesystem::is_regular_file(db));
      auto again = start(command);
      CHECK(again->process().wait_for_err("messages are kept in livechat.db (2 stored)"));
      httplib::Client client("127.0.0.1", again->port("message"));
      auto history = client.Get("/messages");
      REQUIRE(history);
      auto kept = json::parse(history->body);
      REQUIRE(kept.size() == 2);
      CHECK(kept[0]["id"] == ids[0]);
      CHECK(kept[1]["content"] == "two");
      CHECK(post_message(again->port("message"), "three") > ids[1]);
    }
  }
}

namespace {

// One row of README's option table, as `livechat <command> --help` must show it.
struct OptionRow {
  std::string option;
  std::string env;
  std::string shown_default;  // as the help prints it; empty: none to check
};

// Returns the help text of one option: its line and the description after it.
std::string option_help(const std::string& help, const std::string& option) {
  static const std::regex k_line_start(R"(^\s+(-\w,)?--)");
  auto lines = split_lines(help);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    std::smatch start;
    const auto& line = lines[i];
    if (std::regex_search(line, start, k_line_start) &&
        line.compare(static_cast<std::size_t>(start.length()) - 2, option.size() + 1,
                     option + " ") == 0) {
      return line + (i + 1 < lines.size() ? "\n" + lines[i + 1] : "");
    }
  }
  return "";
}

}  // namespace

// Promised in README "What runs" (the option table: flag, then environment, then default) and
// API.md "Cross-cutting" (`PORT`, `NOTIFICATION_SERVICE_URL`).
TEST_CASE("options: the flag wins over the environment, which wins over the default", "[e2e]") {
  SECTION("--help names each variable and default of README's table") {
    const std::vector<OptionRow> services = {
        {"--host", "LIVECHAT_HOST", "=0.0.0.0"},
        {"--redis", "LIVECHAT_REDIS_URL", ""},
        {"--auth-secret", "LIVECHAT_AUTH_SECRET", ""},
        {"--notify-token", "LIVECHAT_NOTIFY_TOKEN", ""},
        {"--trust-proxy", "LIVECHAT_TRUST_PROXY", ""},
        {"--tls-cert", "LIVECHAT_TLS_CERT", ""},
        {"--tls-key", "LIVECHAT_TLS_KEY", ""},
        {"--request-timeout", "LIVECHAT_REQUEST_TIMEOUT", "=20 "},
        {"--max-header-bytes", "LIVECHAT_MAX_HEADER_BYTES", "=32768 "},
        {"--cors-origin", "LIVECHAT_CORS_ORIGINS", "=[*]"},
        {"--log-level", "LIVECHAT_LOG_LEVEL", "=info "},
        {"--log-format", "LIVECHAT_LOG_FORMAT", "=text "},
    };
    const std::vector<OptionRow> message = {
        {"--db", "LIVECHAT_DB", "=livechat.db "},
        {"--redis-max-messages", "LIVECHAT_REDIS_MAX_MESSAGES", "=1000000 "},
        {"--public-notify-url", "LIVECHAT_PUBLIC_NOTIFY_URL", ""},
        {"--max-message-bytes", "LIVECHAT_MAX_MESSAGE_BYTES", "=65536 "},
        {"--max-body-bytes", "LIVECHAT_MAX_BODY_BYTES", ""},
        {"--rate-limit", "LIVECHAT_RATE_LIMIT", "=0 "},
        {"--rate-burst", "LIVECHAT_RATE_BURST", ""},
    };
    const std::vector<OptionRow> notify = {
        {"--heartbeat", "LIVECHAT_HEARTBEAT", "=15 "},
        {"--retry", "LIVECHAT_RETRY_MS", "=2000 "},
        {"--max-clients", "LIVECHAT_MAX_CLIENTS", "=15000 "},
        {"--log-events", "LIVECHAT_LOG_EVENTS", "=10000 "},
        {"--max-lag", "LIVECHAT_MAX_LAG", "=10000 "},
        {"--max-stream-buffer", "LIVECHAT_MAX_STREAM_BUFFER", "=1048576 "},
        {"--max-streams-per-client", "LIVECHAT_MAX_STREAMS_PER_CLIENT", "=1000 "},
    };
    auto joined = [](std::vector<std::vector<OptionRow>> parts) {
      std::vector<OptionRow> all;
      for (auto& part : parts) {
        all.insert(all.end(), part.begin(), part.end());
      }
      return all;
    };
    const std::map<std::string, std::vector<OptionRow>> commands = {
        {"serve", joined({services,
                          message,
                          notify,
                          {{"--port", "PORT", "=8080 "},
                           {"--notify-port", "LIVECHAT_NOTIFY_PORT", "=8081 "},
                           {"--expose-notify", "LIVECHAT_EXPOSE_NOTIFY", ""}}})},
        {"serve-message",
         joined({services,
                 message,
                 {{"--port", "PORT", "=8080 "},
                  {"--notify-url", "NOTIFICATION_SERVICE_URL", "=http://localhost:8081 "},
                  {"--cacert", "LIVECHAT_CACERT", ""}}})},
        {"serve-notify", joined({services,
                                 notify,
                                 {{"--port", "PORT", "=8081 "},
                                  {"--max-body-bytes", "LIVECHAT_MAX_BODY_BYTES", "=4194304 "},
                                  {"--message-url", "MESSAGE_SERVICE_URL", ""},
                                  {"--cacert", "LIVECHAT_CACERT", ""}}})},
        {"send",
         {{"--url", "MESSAGE_SERVICE_URL", "=http://localhost:8080 "},
          {"--user", "LIVECHAT_USER", "anonymous"},
          {"--room", "LIVECHAT_ROOM", "general"},
          {"--token", "LIVECHAT_TOKEN", ""},
          {"--cacert", "LIVECHAT_CACERT", ""}}},
        {"listen",
         {{"--url", "NOTIFICATION_SERVICE_URL", "=http://localhost:8081 "},
          {"--message-url", "MESSAGE_SERVICE_URL", "=http://localhost:8080 "},
          {"--token", "LIVECHAT_TOKEN", ""},
          {"--cacert", "LIVECHAT_CACERT", ""}}},
        {"bench", {{"--cacert", "LIVECHAT_CACERT", ""}}},
        {"token", {{"--secret", "LIVECHAT_AUTH_SECRET", ""}}},
    };
    for (const auto& [command, rows] : commands) {
      auto help = run_in_process({command, "--help"});
      REQUIRE(help.code == 0);
      for (const auto& row : rows) {
        INFO("livechat " << command << " " << row.option);
        auto text = option_help(help.out, row.option);
        CAPTURE(text);
        CHECK(contains(text, "(Env:" + row.env + ")"));
        CHECK(contains(text, row.shown_default));
      }
    }
  }

  SECTION("NOTIFICATION_SERVICE_URL: where serve-message hands messages; --notify-url wins") {
    LivechatServer from_env({"serve-notify", "--port", "0"});
    LivechatServer from_flag({"serve-notify", "--port", "0"});
    SseClient env_stream(from_env.port("notification"), "/events");
    SseClient flag_stream(from_flag.port("notification"), "/events");
    REQUIRE(env_stream.wait_connected());
    REQUIRE(flag_stream.wait_connected());
    const std::map<std::string, std::string> env = {
        {"NOTIFICATION_SERVICE_URL", from_env.url("notification")}};
    LivechatServer by_env({"serve-message", "--port", "0"}, env);
    post_message(by_env.port("message"), "by the environment");
    REQUIRE(env_stream.wait_messages(1));
    CHECK(json::parse(env_stream.messages()[0].data)["content"] == "by the environment");
    LivechatServer by_flag(
        {"serve-message", "--port", "0", "--notify-url", from_flag.url("notification")}, env);
    post_message(by_flag.port("message"), "by the flag");
    REQUIRE(flag_stream.wait_messages(1));
    CHECK(json::parse(flag_stream.messages()[0].data)["content"] == "by the flag");
    Service by_default({"serve-message", "--host", "127.0.0.1", "--port", "0"},
                       {"NOTIFICATION_SERVICE_URL"});
    CHECK(by_default.process().wait_for_err(
        "handing messages to the notification service at http://localhost:8081"));
  }

  SECTION("PORT and LIVECHAT_NOTIFY_PORT: the ports of serve and serve-message") {
    const int port = free_port();
    const int notify_port = free_port();
    const std::map<std::string, std::string> env = {
        {"PORT", std::to_string(port)}, {"LIVECHAT_NOTIFY_PORT", std::to_string(notify_port)}};
    {
      LivechatServer by_env({"serve"}, env);
      CHECK(by_env.port("message") == port);
      CHECK(by_env.port("notification") == notify_port);
    }
    {
      LivechatServer by_env({"serve-message"}, env);
      CHECK(by_env.port("message") == port);
    }
    const int flag_port = free_port();
    const int flag_notify_port = free_port();
    LivechatServer by_flag({"serve", "--port", std::to_string(flag_port), "--notify-port",
                            std::to_string(flag_notify_port)},
                           env);
    CHECK(by_flag.port("message") == flag_port);
    CHECK(by_flag.port("notification") == flag_notify_port);
  }

  SECTION("message service: LIVECHAT_DB, LIVECHAT_MAX_MESSAGE_BYTES, LIVECHAT_PUBLIC_NOTIFY_URL") {
    TempDir dir;
    const std::map<std::string, std::string> env = {
        {"LIVECHAT_DB", dir.file("env.db")},
        {"LIVECHAT_MAX_MESSAGE_BYTES", "10"},
        {"LIVECHAT_PUBLIC_NOTIFY_URL", "http://env.test:1234"}};
    auto content = [](std::size_t bytes) {
      return json{{"content", std::string(bytes, 'a')}}.dump();
    };
    {
      LivechatServer by_env({"serve", "--port", "0", "--notify-port", "0"}, env);
      const int port = by_env.port("message");
      CHECK(by_env.process().wait_for_err("messages are kept in " + dir.file("env.db")));
      CHECK(post_json(port, content(10))->status == 201);
      CHECK(post_json(port, content(11))->status == 413);
      CHECK(page_notify_url(port) == "http://env.test:1234");
    }
    {
      LivechatServer by_flag(
          {"serve", "--port", "0", "--notify-port", "0", "--db", dir.file("flag.db"),
           "--max-message-bytes", "20", "--public-notify-url", "http://flag.test:99"},
          env);
      const int port = by_flag.port("message");
      CHECK(by_flag.process().wait_for_err("messages are kept in " + dir.file("flag.db")));
      CHECK(post_json(port, content(20))->status == 201);
      CHECK(post_json(port, content(21))->status == 413);
      CHECK(page_notify_url(port) == "http://flag.test:99");
    }
    Service by_default({"serve", "--host", "127.0.0.1", "--port", "0", "--notify-port", "0"},
                       {"LIVECHAT_MAX_MESSAGE_BYTES", "LIVECHAT_PUBLIC_NOTIFY_URL"});
    const int port = by_default.port("message");
    CHECK(post_json(port, content(65536))->status == 201);
    CHECK(post_json(port, content(65537))->status == 413);
    CHECK(page_notify_url(port) ==
          "http://localhost:" + std::to_string(by_default.port("notification")));
  }

  SECTION("notification service: LIVECHAT_RETRY_MS, LIVECHAT_MAX_CLIENTS, LIVECHAT_HEARTBEAT") {
    const std::map<std::string, std::string> env = {{"LIVECHAT_RETRY_MS", "1234"},
                                                    {"LIVECHAT_MAX_CLIENTS", "1"},
                                                    {"LIVECHAT_HEARTBEAT", "0.1"}};
    auto opened = [](int port, std::size_t count) {
      std::vector<std::unique_ptr<SseClient>> streams;
      for (std::size_t i = 0; i < count; ++i) {
        streams.push_back(std::make_unique<SseClient>(port, "/events"));
        REQUIRE(streams.back()->wait_connected());
      }
      REQUIRE(counts_streams(port, static_cast<int>(count)));
      return streams;
    };
    auto refused = [](int port) {
      SseClient stream(port, "/events");
      return stream.wait_ended() && stream.status() == 503;
    };
    {
      LivechatServer by_env({"serve-notify", "--port", "0"}, env);
      const int port = by_env.port("notification");
      auto streams = opened(port, 1);
      CHECK(streams[0]->raw().rfind("retry: 1234\n", 0) == 0);
      CHECK(refused(port));
      CHECK(eventually([&] { return contains(streams[0]->raw(), ": ping"); }, 5s));
    }
    {
      LivechatServer by_flag({"serve-notify", "--port", "0", "--retry", "4321", "--max-clients",
                              "2", "--heartbeat", "3600"},
                             env);
      const int port = by_flag.port("notification");
      auto streams = opened(port, 2);
      CHECK(streams[0]->raw().rfind("retry: 4321\n", 0) == 0);
      CHECK(refused(port));
    }
    Service by_default({"serve-notify", "--host", "127.0.0.1", "--port", "0"},
                       {"LIVECHAT_RETRY_MS", "LIVECHAT_MAX_CLIENTS", "LIVECHAT_HEARTBEAT"});
    auto streams = opened(by_default.port("notification"), 3);
    CHECK(streams[0]->raw().rfind("retry: 2000\n", 0) == 0);
  }

  SECTION("every service: LIVECHAT_HOST, LIVECHAT_LOG_FORMAT, LIVECHAT_CORS_ORIGINS") {
    const std::map<std::string, std::string> env = {
        {"LIVECHAT_HOST", "127.0.0.2"},
        {"LIVECHAT_LOG_FORMAT", "json"},
        {"LIVECHAT_CORS_ORIGINS", "http://env.test,http://also.test"}};
    auto allowed = [](const std::string& host, int port, const std::string& origin) {
      httplib::Client client(host, port);
      auto result = client.Get("/health", {{"Origin", origin}});
      REQUIRE(result);
      return result->get_header_value("Access-Control-Allow-Origin");
    };
    {
      Service by_env({"serve-notify", "--port", "0"}, {}, env);
      const int port = by_env.port("notification");
      CHECK(by_env.process().wait_for_err("listening on http://127.0.0.2:" + std::to_string(port)));
      for (const auto& line : split_lines(by_env.process().err())) {
        CHECK(json::parse(line, nullptr, false).is_object());
      }
      CHECK(allowed("127.0.0.2", port, "http://also.test") == "http://also.test");
      CHECK(allowed("127.0.0.2", port, "http://flag.test").empty());
    }
    {
      LivechatServer by_flag({"serve-notify", "--port", "0", "--log-format", "text",
                              "--cors-origin", "http://flag.test"},
                             env);
      const int port = by_flag.port("notification");
      CHECK(
          by_flag.process().wait_for_err("listening on http://127.0.0.1:" + std::to_string(port)));
      CHECK(by_flag.process().err().front() != '{');
      CHECK(allowed("127.0.0.1", port, "http://env.test").empty());
      CHECK(allowed("127.0.0.1", port, "http://flag.test") == "http://flag.test");
    }
    Service by_default({"serve-notify", "--host", "127.0.0.1", "--port", "0"},
                       {"LIVECHAT_LOG_FORMAT", "LIVECHAT_CORS_ORIGINS"});
    CHECK(by_default.process().err().front() != '{');
    CHECK(allowed("127.0.0.1", by_default.port("notification"), "http://any.test") == "*");
  }

  SECTION("clients: listen's NOTIFICATION_SERVICE_URL, send's LIVECHAT_USER and LIVECHAT_ROOM") {
    auto server = start_serve();
    const std::string notify_url = server.url("notification");
    const std::string dead_url = "http://127.0.0.1:" + std::to_string(free_port());
    Child by_env({LIVECHAT_BINARY, "listen", "--count", "3"},
                 {{"NOTIFICATION_SERVICE_URL", notify_url}});
    Child by_flag({LIVECHAT_BINARY, "listen", "--count", "3", "--url", notify_url},
                  {{"NOTIFICATION_SERVICE_URL", dead_url}});
    REQUIRE(by_env.wait_for_err("connected\n"));
    REQUIRE(by_flag.wait_for_err("connected\n"));

    const std::string message_url = server.url("message");
    const std::map<std::string, std::string> env = {{"LIVECHAT_USER", "ann"},
                                                    {"LIVECHAT_ROOM", "ops"}};
    CHECK(run_in_process({"send", "--url", message_url, "from env"}, env).code == 0);
    CHECK(run_in_process(
              {"send", "--url", message_url, "--user", "bob", "--room", "dev", "from flags"}, env)
              .code == 0);
    Child defaults({"/usr/bin/env", "-u", "LIVECHAT_USER", "-u", "LIVECHAT_ROOM", LIVECHAT_BINARY,
                    "send", "--url", message_url, "by default"});
    CHECK(defaults.wait_exit(10s) == 0);

    for (auto* listener : {&by_env, &by_flag}) {
      REQUIRE(listener->wait_exit(10s) == 0);
      auto lines = listener->out_lines();
      REQUIRE(lines.size() == 3);
      auto a = json::parse(lines[0]);
      auto b = json::parse(lines[1]);
      auto c = json::parse(lines[2]);
      CHECK((a["user"] == "ann" && a["room"] == "ops"));
      CHECK((b["user"] == "bob" && b["room"] == "dev"));
      CHECK((c["user"] == "anonymous" && c["room"] == "general"));
    }
  }
}
