// End to end: messages kept in SQLite across restarts, and the outbox to the notification side.
#include <fcntl.h>
#include <httplib.h>
#include <sys/mount.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/support/helpers.hpp"
#include "tests/support/process.hpp"
#include "tests/support/sse_client.hpp"

using namespace livechat::test;
using json = nlohmann::json;

namespace {

std::vector<std::string> history_ids(int port) {
  httplib::Client client("127.0.0.1", port);
  std::vector<std::string> ids;
  for (const auto& m : json::parse(client.Get("/messages?limit=1000")->body)) {
    ids.push_back(m["id"]);
  }
  return ids;
}

// A tmpfs of its own, `size` big, at a new directory (mounting needs root), unmounted when it
// goes out of scope: a real filesystem that fills up.
class SmallDisk {
 public:
  SmallDisk(std::filesystem::path path, const std::string& size) : m_path(std::move(path)) {
    std::filesystem::create_directories(m_path);
    std::string options = "size=" + size;
    if (::mount("tmpfs", m_path.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) != 0) {
      m_why = std::strerror(errno);
    }
  }
  ~SmallDisk() {
    if (mounted()) {
      ::umount2(m_path.c_str(), MNT_DETACH);
    }
  }
  SmallDisk(const SmallDisk&) = delete;
  SmallDisk& operator=(const SmallDisk&) = delete;

  bool mounted() const { return m_why.empty(); }
  const std::string& why() const { return m_why; }
  std::string file(const std::string& name) const { return (m_path / name).string(); }

  // Writes `name` until the filesystem has no room left, not a byte.
  void fill(const std::string& name) const {
    int fd = ::open(file(name).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    REQUIRE(fd >= 0);
    const std::string chunk(65536, 'f');
    std::size_t size = chunk.size();
    while (size > 0) {
      ssize_t n = ::write(fd, chunk.data(), size);
      if (n < 0 && errno == ENOSPC) {
        size /= 2;  // what is left may hold a smaller write
      } else {
        REQUIRE(n > 0);
      }
    }
    ::close(fd);
  }

 private:
  std::filesystem::path m_path;
  std::string m_why;
};

json get_json(int port, const std::string& path, int* status = nullptr) {
  httplib::Client client("127.0.0.1", port);
  auto result = client.Get(path);
  REQUIRE(result);
  if (status != nullptr) {
    *status = result->status;
  }
  return json::parse(result->body);
}

std::string metrics_of(int port) {
  httplib::Client client("127.0.0.1", port);
  auto result = client.Get("/metrics");
  REQUIRE(result);
  return result->body;
}

std::size_t lines_in(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

}  // namespace

TEST_CASE("durable messages", "[e2e]") {
  TempDir dir;
  const std::string db = dir.file("chat.db");

  SECTION("history and increasing ids survive a restart of the message service") {
    std::vector<std::string> before;
    {
      LivechatServer server({"serve", "--port", "0", "--notify-port", "0", "--db", db});
      for (int i = 0; i < 5; ++i) {
        before.push_back(post_message(server.port("message"), "m" + std::to_string(i)));
      }
      REQUIRE(server.stop() == 0);
    }
    LivechatServer again({"serve", "--port", "0", "--notify-port", "0", "--db", db});
    CHECK(history_ids(again.port("message")) == before);
    auto next = post_message(again.port("message"), "after the restart");
    CHECK(next > before.back());
    CHECK(history_ids(again.port("message")).size() == 6);
  }

  SECTION("100 messages sent while the notification service is down all reach a listener") {
    int notify_port = free_port();
    std::string notify_url = "http://127.0.0.1:" + std::to_string(notify_port);
    auto notify = std::make_unique<LivechatServer>(std::vector<std::string>{
        "serve-notify", "--port", std::to_string(notify_port), "--retry", "100"});
    LivechatServer message(
        {"serve-message", "--port", "0", "--db", db, "--notify-url", notify_url});
    Child listener({LIVECHAT_BINARY, "listen", "--json", "--count", "101", "--url", notify_url,
                    "--message-url", message.url("message")});
    REQUIRE(listener.wait_until(
        [](auto&, auto& err) { return err.find("connected") != std::string::npos; }, 10s));
    std::vector<std::string> sent = {post_message(message.port("message"), "before")};
    REQUIRE(listener.wait_for_lines(1, 10s));

    REQUIRE(notify->stop() == 0);
    notify.reset();
    for (int i = 0; i < 100; ++i) {
      sent.push_back(post_message(message.port("message"), "while down " + std::to_string(i)));
    }
    notify = std::make_unique<LivechatServer>(std::vector<std::string>{
        "serve-notify", "--port", std::to_string(notify_port), "--retry", "100"});

    REQUIRE(listener.wait_exit(30s) == 0);
    std::vector<std::string> got;
    for (const auto& line : listener.out_lines()) {
      got.push_back(json::parse(line)["id"]);
    }
    CHECK(got == sent);
  }

  SECTION("what was stored but not delivered goes out after the message service restarts") {
    int notify_port = free_port();
    std::string notify_url = "http://127.0.0.1:" + std::to_string(notify_port);
    std::vector<std::string> sent;
    {
      LivechatServer message(
          {"serve-message", "--port", "0", "--db", db, "--notify-url", notify_url});
      for (int i = 0; i < 30; ++i) {
        sent.push_back(post_message(message.port("message"), "queued " + std::to_string(i)));
      }
      REQUIRE(message.stop() == 0);
    }
    LivechatServer notify({"serve-notify", "--port", std::to_string(notify_port)});
    SseClient client(notify_port, "/events");
    REQUIRE(client.wait_connected());
    LivechatServer message(
        {"serve-message", "--port", "0", "--db", db, "--notify-url", notify_url});
    REQUIRE(client.wait_messages(30, 20s));
    std::vector<std::string> got;
    for (const auto& e : client.messages()) {
      got.push_back(e.id);
    }
    CHECK(got == sent);
    httplib::Client health("127.0.0.1", message.port("message"));
    CHECK(eventually(
        [&] { return json::parse(health.Get("/health")->body)["notify"]["backlog"] == 0; }));
  }

  SECTION("an unusable --db is one clear error line at start-up") {
    std::ofstream(dir.file("junk.db")) << std::string(4096, 'j');
    for (const auto& bad :
         {dir.file("junk.db"), dir.path().string(), std::string("/proc/livechat.db")}) {
      auto result = run_livechat({"serve-message", "--port", "0", "--db", bad});
      INFO(result.err);
      CHECK(result.code == 1);
      CHECK(result.err.rfind("livechat: error: --db " + bad + ": ", 0) == 0);
      CHECK(lines_in(result.err) == 1);
    }
  }
}

TEST_CASE("a store that cannot write", "[e2e]") {
  TempDir dir;
  SmallDisk disk(dir.path() / "disk", "2m");
  if (!disk.mounted()) {
    WARN("skipped: cannot mount a 2 MiB tmpfs to fill (" + disk.why() + "); this test needs root");
    return;
  }
  LivechatServer server({"serve-message", "--port", "0", "--db", disk.file("chat.db"),
                         "--notify-url", "http://127.0.0.1:" + std::to_string(free_port()),
                         "--log-level", "debug"});
  const int port = server.port("message");
  std::vector<std::string> accepted;
  for (int i = 0; i < 3; ++i) {
    accepted.push_back(post_message(port, "before " + std::to_string(i)));
  }
  auto health = get_json(port, "/health");
  CHECK(health["status"] == "ok");
  CHECK(health["store_health"]["writable"] == true);
  CHECK(metrics_of(port).find("\nlivechat_store_writable 1\n") != std::string::npos);

  SECTION("disk full: posts get 503, health says degraded and why; room again: ok by itself") {
    disk.fill("filler");
    // SQLite may still have room in what it holds: post until the store refuses.
    httplib::Client client("127.0.0.1", port);
    int status = 201;
    for (int i = 0; i < 200 && status == 201; ++i) {
      auto res = client.Post("/messages", json{{"content", std::string(2000, 'x')}}.dump(),
                             "application/json");
      REQUIRE(res);
      status = res->status;
      if (status == 201) {
        accepted.push_back(json::parse(res->body)["id"]);
      } else {
        CHECK(json::parse(res->body)["code"] == "unavailable");
      }
    }
    REQUIRE(status == 503);

    int health_status = 0;
    health = get_json(port, "/health", &health_status);
    CHECK(health_status == 200);  // history is still served
    CHECK(health["status"] == "degraded");
    CHECK(health["store"] == "sqlite");
    CHECK(health["store_health"]["reachable"] == true);
    CHECK(health["store_health"]["writable"] == false);
    CHECK(health["store_health"]["error"] == "database or disk is full");
    CHECK(health["error"] == "database or disk is full");
    auto metrics = metrics_of(port);
    CHECK(metrics.find("\nlivechat_store_writable 0\n") != std::string::npos);
    CHECK(metrics.find("\nlivechat_store_reachable 1\n") != std::string::npos);
    CHECK_FALSE(server.process().wait_exit(0ms));
    CHECK(history_ids(port) == accepted);
    // The service's own probe, tried while the disk is still full, does not make it ok.
    REQUIRE(server.process().wait_for_err("the database still takes no writes"));
    CHECK(get_json(port, "/health")["status"] == "degraded");

    std::filesystem::remove(disk.file("filler"));
    // No post needed: the service finds the disk writable again by itself.
    REQUIRE(eventually([&] { return get_json(port, "/health")["status"] == "ok"; }));
    CHECK(get_json(port, "/health")["store_health"]["writable"] == true);
    CHECK(metrics_of(port).find("\nlivechat_store_writable 1\n") != std::string::npos);
    accepted.push_back(post_message(port, "after"));
    CHECK(history_ids(port) == accepted);
  }
}
