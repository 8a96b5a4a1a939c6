// End to end: HTTPS with a throwaway certificate made by openssl for this test.
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <httplib.h>

#include <filesystem>
#include <fstream>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/support/helpers.hpp"
#include "tests/support/in_process.hpp"
#include "tests/support/process.hpp"

using namespace livechat::test;
using json = nlohmann::json;

namespace {

// A self-signed certificate for localhost and 127.0.0.1, and its key.
struct Certificate {
  std::string cert;
  std::string key;
};

Certificate make_certificate(const TempDir& dir, const std::string& name) {
  Certificate made{dir.file(name + ".pem"), dir.file(name + "-key.pem")};
  Child openssl({"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                 "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                 "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", made.key,
                 "-out", made.cert});
  REQUIRE(openssl.wait_exit(30s) == 0);
  return made;
}

std::string https_url(int port) { return "https://127.0.0.1:" + std::to_string(port); }

std::unique_ptr<httplib::SSLClient> https_client(int port, const std::string& ca) {
  auto client = std::make_unique<httplib::SSLClient>("127.0.0.1", port);
  client->set_ca_cert_path(ca.c_str());
  client->enable_server_certificate_verification(true);
  return client;
}

// A TLS connection driven by hand: it can stop reading, and it sees every byte.
class RawTlsClient {
 public:
  explicit RawTlsClient(int port) {
    m_ctx = SSL_CTX_new(TLS_client_method());
    m_fd = connect_loopback(port);
    m_ssl = SSL_new(m_ctx);
    SSL_set_fd(m_ssl, m_fd);
    REQUIRE(SSL_connect(m_ssl) == 1);
  }
  ~RawTlsClient() {
    SSL_free(m_ssl);
    ::close(m_fd);
    SSL_CTX_free(m_ctx);
  }

  void send(const std::string& text) {
    REQUIRE(SSL_write(m_ssl, text.data(), static_cast<int>(text.size())) ==
            static_cast<int>(text.size()));
  }

  // Reads until the stream's `connected` event came; false if it did not in 10 s.
  bool wait_connected() {
    return read_until([](const std::string& got) {
             return got.find("event: connected") != std::string::npos;
           }).find("event: connected") != std::string::npos;
  }

  // Reads until `done` holds for what came, the stream ends, or 10 s pass.
  std::string read_until(const std::function<bool(const std::string&)>& done) {
    auto until = std::chrono::steady_clock::now() + 10s;
    char buffer[16 * 1024];
    while (!done(m_received) && std::chrono::steady_clock::now() < until) {
      if (SSL_pending(m_ssl) == 0) {
        pollfd p{m_fd, POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) {
          continue;
        }
      }
      int n = SSL_read(m_ssl, buffer, sizeof buffer);
      if (n <= 0) {
        m_ended = true;
        break;
      }
      m_received.append(buffer, static_cast<std::size_t>(n));
    }
    return m_received;
  }

  bool ended() const { return m_ended; }
  int fd() const { return m_fd; }

 private:
  SSL_CTX* m_ctx = nullptr;
  SSL* m_ssl = nullptr;
  int m_fd = -1;
  std::string m_received;
  bool m_ended = false;
};

// What every HTTPS test starts from: a directory with a server certificate made for it.
struct Certified {
  TempDir dir;
  Certificate certificate = make_certificate(dir, "server");
};

}  // namespace

TEST_CASE_METHOD(
    Certified,
    "HTTPS: serve with --tls-cert: the page, send and listen with --cacert, in order, once",
    "[e2e]") {
  LivechatServer server({"serve", "--db", ":memory:", "--port", "0", "--notify-port", "0",
                         "--tls-cert", certificate.cert, "--tls-key", certificate.key});
  const int message_port = server.port("message");
  const int notify_port = server.port("notification");
  auto page = https_client(message_port, certificate.cert)->Get("/");
  REQUIRE(page);
  CHECK(page->status == 200);
  CHECK(page->body.find("<html") != std::string::npos);

  Child listen({LIVECHAT_BINARY, "listen", "--url", https_url(notify_port), "--message-url",
                https_url(message_port), "--cacert", certificate.cert, "--json", "--count", "20"});
  REQUIRE(listen.wait_for_err("connected"));
  std::vector<std::string> sent;
  for (int i = 0; i < 20; ++i) {
    auto result =
        run_in_process({"send", "--url", "https://localhost:" + std::to_string(message_port),
                        "--cacert", certificate.cert, "over TLS " + std::to_string(i)});
    REQUIRE(result.code == 0);
    sent.push_back(split_lines(result.out).at(0));
  }
  REQUIRE(listen.wait_exit(10s) == 0);
  std::vector<std::string> heard;
  for (const auto& line : listen.out_lines()) {
    heard.push_back(json::parse(line)["id"]);
  }
  CHECK(heard == sent);
}

TEST_CASE_METHOD(
    Certified,
    "HTTPS: bench over HTTPS: its streams and posts speak TLS, and every message arrives",
    "[e2e]") {
  LivechatServer server({"serve", "--db", ":memory:", "--port", "0", "--notify-port", "0",
                         "--tls-cert", certificate.cert, "--tls-key", certificate.key});
  auto run = run_in_process({"bench", "-n", "30", "-m", "50", "--rate", "400", "--json",
                             "--message-url", https_url(server.port("message")), "--notify-url",
                             "https://localhost:" + std::to_string(server.port("notification")),
                             "--cacert", certificate.cert});
  INFO("stderr: " << run.err);
  REQUIRE(run.code == 0);
  auto report = json::parse(run.out);
  CHECK(report["connected"] == 30);
  CHECK(report["received"] == 30 * 50);
  CHECK(report["lost"] == 0);
  CHECK(report["out_of_order"] == 0);
  auto untrusted = run_in_process({"bench", "-n", "2", "-m", "1", "--message-url",
                                   https_url(server.port("message")), "--notify-url",
                                   https_url(server.port("notification"))});
  CHECK(untrusted.code != 0);
  CHECK(untrusted.err.find("not trusted") != std::string::npos);
  CHECK(untrusted.err.find("running?") == std::string::npos);
}

TEST_CASE_METHOD(Certified,
                 "HTTPS: split services: the message service hands messages on over HTTPS",
                 "[e2e]") {
  LivechatServer notify({"serve-notify", "--port", "0", "--tls-cert", certificate.cert, "--tls-key",
                         certificate.key});
  const int notify_port = notify.port("notification");
  LivechatServer message({"serve-message", "--db", ":memory:", "--port", "0", "--notify-url",
                          https_url(notify_port), "--cacert", certificate.cert});
  RawTlsClient stream(notify_port);
  stream.send("GET /events HTTP/1.1\r\nHost: localhost\r\n\r\n");
  REQUIRE(stream.wait_connected());
  auto id = post_message(message.port("message"), "handed on");
  auto got = stream.read_until(
      [&](const std::string& text) { return text.find("id: " + id) != std::string::npos; });
  CHECK(got.find("handed on") != std::string::npos);
}

TEST_CASE_METHOD(Certified,
                 "HTTPS: streams over TLS end with the shutdown comment and the last chunk",
                 "[e2e]") {
  LivechatServer notify({"serve-notify", "--port", "0", "--tls-cert", certificate.cert, "--tls-key",
                         certificate.key});
  RawTlsClient stream(notify.port("notification"));
  stream.send("GET /events HTTP/1.1\r\nHost: localhost\r\n\r\n");
  REQUIRE(stream.wait_connected());
  notify.process().signal(SIGTERM);
  auto got = stream.read_until([](const std::string&) { return false; });
  CHECK(stream.ended());
  CHECK(got.find(": server shutting down") != std::string::npos);
  CHECK(got.size() >= 5);
  CHECK(got.substr(got.size() - 5) == "0\r\n\r\n");
  CHECK(notify.process().wait_exit(10s) == 0);
}

TEST_CASE_METHOD(Certified,
                 "HTTPS: a kept-alive TLS connection waits for its next request without a thread",
                 "[e2e]") {
  LivechatServer notify({"serve-notify", "--port", "0", "--tls-cert", certificate.cert, "--tls-key",
                         certificate.key});
  const std::size_t threads = notify.process().threads();
  RawTlsClient client(notify.port("notification"));
  auto answers = [](const std::string& got) {
    std::size_t count = 0;
    for (auto at = got.find("HTTP/1.1 200"); at != std::string::npos;
         at = got.find("HTTP/1.1 200", at + 1)) {
      ++count;
    }
    return got.find("\"service\":\"notify\"") == std::string::npos ? 0 : count;
  };
  for (std::size_t i = 1; i <= 3; ++i) {
    client.send("GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n");
    auto got = client.read_until([&](const std::string& text) { return answers(text) >= i; });
    REQUIRE(answers(got) == i);
    // Quiet now: the session waits in the server's idle set, and its thread is gone.
    REQUIRE(eventually([&] { return notify.process().threads() <= threads; }));
  }
  CHECK_FALSE(client.ended());
}

TEST_CASE_METHOD(Certified,
                 "HTTPS: a TLS client that stops reading is closed, one that reads gets everything",
                 "[e2e]") {
  LivechatServer notify({"serve-notify", "--port", "0", "--tls-cert", certificate.cert, "--tls-key",
                         certificate.key, "--heartbeat", "0.1"});
  const int port = notify.port("notification");
  RawTlsClient stalled(port);
  stalled.send("GET /events HTTP/1.1\r\nHost: localhost\r\n\r\n");
  REQUIRE(stalled.wait_connected());
  Child listen({LIVECHAT_BINARY, "listen", "--url", https_url(port), "--cacert", certificate.cert,
                "--json", "--count", "300"});
  auto client = https_client(port, certificate.cert);
  REQUIRE(eventually([&] {
    auto health = client->Get("/health");
    return health && json::parse(health->body)["clients"] == 2;
  }));
  const std::string padding(16 * 1024, 'x');
  for (int i = 0; i < 300; ++i) {
    char id[32];
    std::snprintf(id, sizeof id, "20240101120000.%06d", i + 1);
    json note = {{"id", id}, {"content", padding}, {"user", "u"}, {"room", "general"}};
    auto posted = client->Post("/notify", note.dump(), "application/json");
    REQUIRE(posted);
    REQUIRE(posted->status == 200);
  }
  REQUIRE(listen.wait_exit(30s) == 0);
  CHECK(listen.out_lines().size() == 300);
  REQUIRE(eventually([&] {
    auto health = client->Get("/health");
    return health && json::parse(health->body)["closed_slow"] == 1;
  }));
}

TEST_CASE_METHOD(Certified, "HTTPS: a TLS record that trickles in is cut off by --request-timeout",
                 "[e2e]") {
  LivechatServer notify({"serve-notify", "--port", "0", "--tls-cert", certificate.cert, "--tls-key",
                         certificate.key, "--request-timeout", "1"});
  RawTlsClient slow(notify.port("notification"));
  // A record header that announces 16 KiB, then a byte every 100 ms: each byte arrives well
  // within the 5 s read timeout, and a blocking SSL_read would wait for the whole record.
  const unsigned char header[] = {0x17, 0x03, 0x03, 0x40, 0x00};
  REQUIRE(::send(slow.fd(), header, sizeof header, MSG_NOSIGNAL) == 5);
  bool closed = false;
  for (int i = 0; i < 100 && !closed; ++i) {  // 10 s at most
    const char byte = 'x';
    pollfd p{slow.fd(), POLLRDHUP, 0};
    closed = ::send(slow.fd(), &byte, 1, MSG_NOSIGNAL) != 1 ||
             (::poll(&p, 1, 100) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0);
  }
  CHECK(closed);
  auto client = https_client(notify.port("notification"), certificate.cert);
  auto health = client->Get("/health");
  REQUIRE(health);
  CHECK(health->status == 200);
}

TEST_CASE_METHOD(
    Certified,
    "HTTPS: SIGHUP loads a new certificate for new connections, and one that does not load is "
    "refused",
    "[e2e]") {
  auto renewed = make_certificate(dir, "renewed");
  const std::string live_cert = dir.file("live.pem");
  const std::string live_key = dir.file("live-key.pem");
  auto install = [&](const Certificate& from) {
    std::filesystem::copy_file(from.cert, live_cert,
                               std::filesystem::copy_options::overwrite_existing);
    std::filesystem::copy_file(from.key, live_key,
                               std::filesystem::copy_options::overwrite_existing);
  };
  install(certificate);
  LivechatServer notify(
      {"serve-notify", "--port", "0", "--tls-cert", live_cert, "--tls-key", live_key});
  const int port = notify.port("notification");
  REQUIRE(https_client(port, certificate.cert)->Get("/health"));
  RawTlsClient stream(port);
  stream.send("GET /events HTTP/1.1\r\nHost: localhost\r\n\r\n");
  REQUIRE(stream.wait_connected());

  install(renewed);
  notify.process().signal(SIGHUP);
  REQUIRE(notify.process().wait_for_err("new connections get the certificate"));
  auto with_new = https_client(port, renewed.cert)->Get("/health");
  REQUIRE(with_new);
  CHECK(with_new->status == 200);
  CHECK_FALSE(https_client(port, certificate.cert)->Get("/health"));
  // The stream opened before goes on with its own session.
  json note = {{"id", "20240101120000.000001"},
               {"content", "after the reload"},
               {"user", "u"},
               {"room", "general"}};
  auto posted = https_client(port, renewed.cert)->Post("/notify", note.dump(), "application/json");
  REQUIRE(posted);
  CHECK(posted->status == 200);
  auto got = stream.read_until(
      [](const std::string& text) { return text.find("after the reload") != std::string::npos; });
  CHECK(got.find("after the reload") != std::string::npos);

  std::ofstream(live_cert) << "not a certificate\n";
  notify.process().signal(SIGHUP);
  REQUIRE(notify.process().wait_for_err("keeping the current certificate"));
  auto still = https_client(port, renewed.cert)->Get("/health");
  REQUIRE(still);
  CHECK(still->status == 200);
}

TEST_CASE_METHOD(Certified, "HTTPS: mistakes are one clear line or a JSON answer", "[e2e]") {
  auto other = make_certificate(dir, "other");
  auto mismatch = run_livechat({"serve-notify", "--host", "127.0.0.1", "--port", "0", "--tls-cert",
                                certificate.cert, "--tls-key", other.key});
  CHECK(mismatch.code != 0);
  REQUIRE(split_lines(mismatch.err).size() == 1);
  CHECK(mismatch.err.find("does not match the certificate") != std::string::npos);
  auto missing = run_livechat(
      {"serve-notify", "--port", "0", "--tls-cert", dir.file("none.pem"), "--tls-key", other.key});
  CHECK(missing.code != 0);
  CHECK(missing.err.find("--tls-cert") != std::string::npos);
  auto half = run_livechat({"serve-notify", "--port", "0", "--tls-cert", certificate.cert});
  CHECK(half.code != 0);
  CHECK(half.err.find("--tls-key") != std::string::npos);

  LivechatServer server({"serve", "--db", ":memory:", "--port", "0", "--notify-port", "0",
                         "--tls-cert", certificate.cert, "--tls-key", certificate.key});
  const int port = server.port("message");
  auto untrusted = run_in_process({"send", "--url", https_url(port), "hi"});
  CHECK(untrusted.code == 1);
  REQUIRE(split_lines(untrusted.err).size() == 1);
  CHECK(untrusted.err.find("not trusted") != std::string::npos);
  CHECK(untrusted.err.find("running?") == std::string::npos);
  auto wrong_ca = run_in_process({"send", "--url", https_url(port), "--cacert", other.cert, "hi"});
  CHECK(wrong_ca.code == 1);
  CHECK(wrong_ca.err.find("not trusted") != std::string::npos);

  httplib::Client plain("127.0.0.1", port);
  auto answer = plain.Get("/health");
  REQUIRE(answer);
  CHECK(answer->status == 400);
  CHECK(json::parse(answer->body)["error"].get<std::string>().find("https://") !=
        std::string::npos);

  LivechatServer plain_server({"serve", "--db", ":memory:", "--port", "0", "--notify-port", "0"});
  auto not_tls = run_in_process({"send", "--url", https_url(plain_server.port("message")), "hi"});
  CHECK(not_tls.code == 1);
  CHECK(not_tls.err.find("TLS") != std::string::npos);
  auto no_file =
      run_in_process({"send", "--url", https_url(port), "--cacert", dir.file("x.pem"), "hi"});
  CHECK(no_file.code != 0);
  CHECK(no_file.err.find("--cacert") != std::string::npos);
}
