#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <mutex>
#include <thread>

#include "server/hub/hub.hpp"
#include "wire/sse.hpp"

using namespace livechat;
using namespace std::chrono_literals;

namespace {

wire::Message message(const std::string& id, const std::string& room = "general",
                      const std::string& content = "hello") {
  return {id, content, "tester", room, "2024-01-01T12:00:00.000000Z"};
}

// A subscriber on a socket pair: the hub owns one end (and closes it when the stream ends), the
// test reads the other. No thread waits for the stream: the hub says when it ended.
class TestSubscriber {
 public:
  explicit TestSubscriber(server::hub::Hub& hub, std::vector<std::string> rooms = {},
                          int send_buffer = 0, std::string unwritten = "") {
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, m_fds) == 0);
    if (send_buffer > 0) {
      setsockopt(m_fds[0], SOL_SOCKET, SO_SNDBUF, &send_buffer, sizeof send_buffer);
      setsockopt(m_fds[1], SOL_SOCKET, SO_RCVBUF, &send_buffer, sizeof send_buffer);
    }
    hub.subscribe({std::make_unique<server::hub::SocketTransport>(m_fds[0]),
                   std::make_shared<server::hub::RawFraming>(), std::move(rooms), std::nullopt, "",
                   [this](server::hub::EndReason reason) {
                     std::lock_guard lock(m_mutex);
                     m_reason = reason;
                     ++m_ends;
                     m_changed.notify_all();
                   },
                   std::move(unwritten)});
  }

  ~TestSubscriber() {
    hang_up();
    wait_ended();
  }

  // Reads until `done(events)` holds or the timeout passes.
  bool read_until(const std::function<bool(const std::vector<wire::sse::Event>&)>& done,
                  std::chrono::milliseconds timeout = 10s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    char buffer[65536];
    while (!done(m_events)) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        return false;
      }
      pollfd p{m_fds[1], POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) {
        continue;
      }
      ssize_t n = ::read(m_fds[1], buffer, sizeof buffer);
      if (n <= 0) {
        m_eof = true;
        return done(m_events);
      }
      m_bytes.append(buffer, static_cast<std::size_t>(n));
      m_parser.feed({buffer, static_cast<std::size_t>(n)},
                    [&](const wire::sse::Event& e) { m_events.push_back(e); });
    }
    return true;
  }

  bool read_messages(std::size_t count, std::chrono::milliseconds timeout = 10s) {
    return read_until([&](const auto& events) { return events.size() >= count; }, timeout);
  }

  std::vector<std::string> ids() const {
    std::vector<std::string> out;
    for (const auto& e : m_events) {
      out.push_back(e.id);
    }
    return out;
  }

  bool wait_ended(std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(m_mutex);
    return m_changed.wait_for(lock, timeout, [&] { return m_ends > 0; });
  }

  // Returns how many times the hub said the stream ended (once, or never).
  int ends() {
    std::lock_guard lock(m_mutex);
    return m_ends;
  }

  // Reads until the hub closes its end; false if it stays open for the timeout.
  bool read_to_eof(std::chrono::milliseconds timeout = 10s) {
    read_until([&](const auto&) { return false; }, timeout);
    return m_eof;
  }

  server::hub::EndReason reason() {
    std::lock_guard lock(m_mutex);
    return m_reason;
  }

  void hang_up() {
    if (m_fds[1] >= 0) {
      ::close(m_fds[1]);
      m_fds[1] = -1;
    }
  }

  const wire::sse::Parser& parser() const { return m_parser; }
  bool eof() const { return m_eof; }
  const std::string& bytes() const { return m_bytes; }

 private:
  int m_fds[2] = {-1, -1};  // [0] is the hub's
  std::mutex m_mutex;
  std::condition_variable m_changed;
  int m_ends = 0;
  server::hub::EndReason m_reason = server::hub::EndReason::client_gone;
  wire::sse::Parser m_parser;
  std::vector<wire::sse::Event> m_events;
  std::string m_bytes;  // everything read
  bool m_eof = false;
};

// Returns how many threads this process runs.
std::size_t thread_count() {
  std::size_t count = 0;
  for ([[maybe_unused]] const auto& entry :
       std::filesystem::directory_iterator("/proc/self/task")) {
    ++count;
  }
  return count;
}

}  // namespace

TEST_CASE("server::hub::Hub") {
  SECTION("every subscriber gets every message once, in the one order of the log") {
    server::hub::Hub hub;
    constexpr int k_subscribers = 100;
    constexpr int k_publishers = 4;
    constexpr int k_per_publisher = 250;
    std::vector<std::unique_ptr<TestSubscriber>> subs;
    for (int i = 0; i < k_subscribers; ++i) {
      subs.push_back(std::make_unique<TestSubscriber>(hub));
    }
    REQUIRE(hub.subscribers() == k_subscribers);
    std::vector<std::thread> publishers;
    for (int p = 0; p < k_publishers; ++p) {
      publishers.emplace_back([&hub, p] {
        for (int i = 0; i < k_per_publisher; ++i) {
          char id[32];
          std::snprintf(id, sizeof id, "p%d-%06d", p, i);
          hub.publish({message(id)});
        }
      });
    }
    for (auto& t : publishers) {
      t.join();
    }
    const std::size_t total = k_publishers * k_per_publisher;
    for (auto& sub : subs) {
      REQUIRE(sub->read_messages(total));
    }
    auto reference = subs.front()->ids();
    REQUIRE(reference.size() == total);
    for (auto& sub : subs) {
      CHECK(sub->ids() == reference);
    }
    // Each publisher's own messages keep their order.
    std::vector<int> last(k_publishers, -1);
    for (const auto& id : reference) {
      int p = id[1] - '0';
      int seq = std::stoi(id.substr(3));
      CHECK(seq == last[p] + 1);
      last[p] = seq;
    }
    CHECK(hub.stats().deliveries == total * k_subscribers);
  }

  SECTION("a subscriber only gets the rooms it asked for") {
    server::hub::Hub hub;
    TestSubscriber ops(hub, {"ops"});
    TestSubscriber all(hub);
    hub.publish({message("1", "general"), message("2", "ops"), message("3", "random"),
                 message("4", "ops")});
    REQUIRE(all.read_messages(4));
    REQUIRE(ops.read_messages(2));
    CHECK(ops.ids() == std::vector<std::string>{"2", "4"});
  }

  SECTION("what the HTTP server had not yet written of a stream goes out before its events") {
    server::hub::Hub hub;
    TestSubscriber sub(hub, {}, 0, ": the head and preamble\n\n");
    hub.publish({message("1"), message("2")});
    REQUIRE(sub.read_messages(2));
    CHECK(sub.bytes().starts_with(": the head and preamble\n\nid: 1\n"));
    CHECK(sub.ids() == std::vector<std::string>{"1", "2"});
    server::hub::Hub closed;
    closed.shutdown("closed");
    TestSubscriber late(closed, {}, 0, ": owed\n\n");
    CHECK(late.read_to_eof());
    CHECK(late.bytes() == ": owed\n\n: closed\n\n");
  }

  SECTION("an id the log already holds is not delivered again") {
    server::hub::Hub hub;
    TestSubscriber sub(hub);
    CHECK(hub.publish({message("a"), message("b")}) == 2);
    CHECK(hub.publish({message("b"), message("c")}) == 1);
    REQUIRE(sub.read_messages(3));
    CHECK(sub.ids() == std::vector<std::string>{"a", "b", "c"});
    CHECK(hub.stats().duplicates == 1);
  }

  SECTION("a stalled subscriber is closed and never holds up the others") {
    server::hub::HubOptions options;
    options.max_lag_events = 20;
    server::hub::Hub hub(options);
    TestSubscriber stalled(hub, {}, 4096);  // never reads
    TestSubscriber reader(hub);
    const std::string big(16 * 1024, 'x');
    constexpr int k_messages = 200;
    for (int i = 0; i < k_messages; ++i) {
      hub.publish({message(std::to_string(100000 + i), "general", big)});
      // The reader keeps up as it would over a network: it is never the slow one.
      REQUIRE(reader.read_messages(static_cast<std::size_t>(i + 1)));
    }
    REQUIRE(stalled.wait_ended());
    CHECK(stalled.reason() == server::hub::EndReason::too_slow);
    CHECK(hub.stats().closed_slow == 1);
    CHECK(reader.ids().size() == k_messages);
  }

  SECTION("a full socket with more than max_stream_bytes due is closed at once") {
    server::hub::HubOptions options;
    options.max_stream_bytes = 64 * 1024;
    options.heartbeat = 600s;  // neither the stall timeout nor --max-lag can close it here
    server::hub::Hub hub(options);
    TestSubscriber stalled(hub, {}, 4096);       // never reads
    TestSubscriber quiet(hub, {"quiet"}, 4096);  // never reads, but nothing is due to it
    TestSubscriber reader(hub);
    const std::string big(8 * 1024, 'x');
    constexpr int k_messages = 40;  // 320 KiB: five times the bound, far from the 10,000 events
    for (int i = 0; i < k_messages; ++i) {
      hub.publish({message(std::to_string(100000 + i), "general", big)});
      REQUIRE(reader.read_messages(static_cast<std::size_t>(i + 1)));  // it keeps up
    }
    REQUIRE(stalled.wait_ended());
    CHECK(stalled.reason() == server::hub::EndReason::too_slow);
    CHECK(hub.stats().closed_slow == 1);
    CHECK(reader.ids().back() == "100039");
    CHECK(hub.subscribers() == 2);  // the reader, and the stream of a room nobody posted to
  }

  SECTION("a backlog larger than one write drains without waiting for the next publish") {
    server::hub::HubOptions options;
    options.max_write_bytes = 1024;  // every write is capped after one message
    // An idle writer sleeps 15 minutes a pass: one that waited for its next pass to go on would
    // deliver the first message and then nothing while the test lasts.
    options.heartbeat = 1h;
    options.max_idle_wait = 1h;
    server::hub::Hub hub(options);
    TestSubscriber sub(hub);
    std::vector<wire::Message> burst;
    for (int i = 0; i < 300; ++i) {
      burst.push_back(message(std::to_string(1000 + i), "general", std::string(1000, 'y')));
    }
    hub.publish(burst);
    REQUIRE(sub.read_messages(300, 60s));  // a hang guard: it comes at once or never
    CHECK(sub.ids().back() == "1299");
  }

  SECTION("a stalled stream in a quiet room is closed after two heartbeats") {
    server::hub::HubOptions options;
    options.heartbeat = 50ms;
    server::hub::Hub hub(options);
    TestSubscriber stalled(hub, {}, 4096);  // never reads
    std::vector<wire::Message> burst;
    for (int i = 0; i < 40; ++i) {
      burst.push_back(message(std::to_string(1000 + i), "general", std::string(8 * 1024, 'q')));
    }
    hub.publish(burst);
    REQUIRE(stalled.wait_ended());
    CHECK(stalled.reason() == server::hub::EndReason::too_slow);
  }

  SECTION("an idle stream gets heartbeat comments") {
    server::hub::HubOptions options;
    options.heartbeat = 20ms;
    server::hub::Hub hub(options);
    TestSubscriber sub(hub);
    CHECK(sub.read_until([&](const auto&) { return sub.parser().comments() >= 3; }));
  }

  SECTION("no thread waits for a stream: 500 streams open and close on the hub's own threads") {
    server::hub::HubOptions options;
    options.heartbeat = 20ms;
    server::hub::Hub hub(options);
    const std::size_t before = thread_count();
    {
      std::vector<std::unique_ptr<TestSubscriber>> subs;
      for (int i = 0; i < 500; ++i) {
        subs.push_back(std::make_unique<TestSubscriber>(hub));
      }
      REQUIRE(hub.subscribers() == 500);
      // Not one more (one that was joined just before may still be listed in `before`).
      CHECK(thread_count() <= before);
      hub.publish({message("1")});
      for (auto& sub : subs) {
        REQUIRE(sub->read_messages(1));  // delivered ...
        REQUIRE(sub->read_until([&](const auto&) { return sub->parser().comments() >= 1; }));
      }  // ... and pinged, with no thread of their own
      CHECK(thread_count() <= before);
    }  // every client hangs up
    CHECK(hub.subscribers() == 0);
    CHECK(thread_count() <= before);
  }

  SECTION("a client that hangs up ends its subscription at once, told once") {
    server::hub::Hub hub;
    auto sub = std::make_unique<TestSubscriber>(hub);
    sub->hang_up();
    REQUIRE(sub->wait_ended());
    CHECK(sub->reason() == server::hub::EndReason::client_gone);
    CHECK(hub.subscribers() == 0);
    // Publishing after it left touches no closed socket.
    hub.publish({message("after")});
    CHECK(hub.stats().published == 1);
    hub.shutdown();
    CHECK(sub->ends() == 1);
  }

  SECTION("shutdown ends every stream with a final comment") {
    server::hub::Hub hub;
    TestSubscriber a(hub);
    TestSubscriber b(hub);
    hub.publish({message("1")});
    REQUIRE(a.read_messages(1));
    hub.shutdown();
    CHECK_FALSE(hub.publish({message("too late")}).has_value());  // its sender keeps it
    REQUIRE(a.wait_ended());
    REQUIRE(b.wait_ended());
    CHECK(a.reason() == server::hub::EndReason::shutdown);
    CHECK(b.reason() == server::hub::EndReason::shutdown);
    CHECK(hub.subscribers() == 0);
    // The hub closed each socket after its final comment.
    REQUIRE(a.read_to_eof());
    REQUIRE(b.read_to_eof());
    CHECK(a.parser().comments() == 1);
    CHECK(b.bytes().find(": server shutting down\n") != std::string::npos);
  }

  SECTION("a stream that subscribes after shutdown ends at once, told so, its socket closed") {
    server::hub::Hub hub;
    hub.shutdown("gone fishing");
    TestSubscriber late(hub);
    REQUIRE(late.wait_ended(0ms));  // already, before subscribe() returned
    CHECK(late.reason() == server::hub::EndReason::shutdown);
    CHECK(late.read_to_eof());
    CHECK(late.bytes() == ": gone fishing\n\n");
    CHECK(hub.subscribers() == 0);
  }

  SECTION("a slow stream's socket is closed by the hub itself") {
    server::hub::HubOptions options;
    options.max_stream_bytes = 16 * 1024;
    server::hub::Hub hub(options);
    TestSubscriber stalled(hub, {}, 4096);  // never reads until it is closed
    std::vector<wire::Message> burst;
    for (int i = 0; i < 20; ++i) {
      burst.push_back(message(std::to_string(1000 + i), "general", std::string(4 * 1024, 's')));
    }
    hub.publish(burst);
    REQUIRE(stalled.wait_ended());
    CHECK(stalled.reason() == server::hub::EndReason::too_slow);
    CHECK(stalled.read_to_eof());  // what the socket took, then the end
    CHECK(hub.subscribers() == 0);
  }
}
