// A data race planted in a handler served by livechat's HTTP server, for the TSan build only:
// ctest runs it under tests/tsan.supp and passes only when TSan reports the race, so a
// suppression that hides races in livechat's handlers fails the TSan run.
//
//   tsan_planted_race get|post|stream
//
// Two clients each send one request on a connection of its own; each connection's handler (a
// GET route, a POST route taking its body, or a stream route's body) writes a
// counter without a lock, then waits for the other handler to have written it too. Neither
// write happens before the other (no lock, and no socket write between them that TSan would
// count as synchronization), so TSan sees the race on every run, not only on unlucky timing.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>

#include "server/http/server.hpp"

namespace {

using namespace livechat::server::http;
using namespace livechat::wire;

constexpr int k_clients = 2;
// How long a handler waits for the other one; only a broken server makes it wait that long.
constexpr auto k_rendezvous_timeout = std::chrono::seconds(20);

long g_planted_counter = 0;  // written by every handler without a lock: the planted race

// Lets each handler go on only once every handler has written the counter.
class Rendezvous {
 public:
  // Counts the calling handler in and waits for the others; false if they did not come.
  bool arrive() {
    std::unique_lock lock(m_mutex);
    ++m_arrived;
    m_all_here.notify_all();
    return m_all_here.wait_for(lock, k_rendezvous_timeout, [&] { return m_arrived >= k_clients; });
  }

 private:
  std::mutex m_mutex;
  std::condition_variable m_all_here;
  int m_arrived = 0;
};

Rendezvous g_rendezvous;

// Writes the counter, racing the other handler, and returns what the handler answers.
std::string planted_race() {
  ++g_planted_counter;
  return g_rendezvous.arrive() ? "counted\n" : "the other request never came\n";
}

void add_routes(HttpServer& server) {
  server.get("/get", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(planted_race(), "text/plain");
  });
  server.post("/post",
              [](const httplib::Request&, httplib::Response& res, const std::string& body) {
                res.set_content(planted_race() + body, "text/plain");
              });
  server.stream("/stream", "text/plain",
                [](const httplib::Request&, httplib::Response&) -> HttpServer::StreamBody {
                  return [](const ResponseStream& stream) { stream.write(planted_race()); };
                });
}

// Sends the request of `mode` on a connection of its own and tells whether it was answered 200
// by a handler that ran.
bool request(int port, const std::string& mode) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    std::perror("tsan_planted_race: connect");
    return false;
  }
  std::string text = (mode == "post" ? "POST /" : "GET /") + mode +
                     " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" +
                     (mode == "post" ? "Content-Length: 2\r\n\r\nhi" : "\r\n");
  bool sent =
      ::send(fd, text.data(), text.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(text.size());
  std::string answer;
  char buffer[4096];
  for (ssize_t n; sent && (n = ::recv(fd, buffer, sizeof buffer, 0)) > 0;) {
    answer.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return answer.starts_with("HTTP/1.1 200") && answer.find("counted") != std::string::npos;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc == 2 ? argv[1] : "";
  if (mode != "get" && mode != "post" && mode != "stream") {
    std::fprintf(stderr, "usage: tsan_planted_race get|post|stream\n");
    return 2;
  }
  HttpServerOptions options;
  options.host = "127.0.0.1";
  options.loop_threads = k_clients;  // each handler waits for the other: one loop each
  HttpServer server(options);
  add_routes(server);
  auto port = server.start();
  if (!port) {
    std::fprintf(stderr, "tsan_planted_race: %s\n", port.error().message.c_str());
    return 2;
  }
  bool answered[k_clients] = {};
  {
    std::jthread clients[k_clients];
    for (int i = 0; i < k_clients; ++i) {
      clients[i] = std::jthread([&, i] { answered[i] = request(*port, mode); });
    }
  }
  server.stop();
  for (bool ok : answered) {
    if (!ok) {
      std::fprintf(stderr, "tsan_planted_race: a request was not answered 200\n");
      return 2;
    }
  }
  // Both handlers ran and TSan let it pass: the suppressions hide races in handlers.
  std::fprintf(stderr, "tsan_planted_race: %s: TSan reported no race (counter %ld)\n", mode.c_str(),
               g_planted_counter);
  return 1;
}
