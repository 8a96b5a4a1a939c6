#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "wire/sse.hpp"

namespace httplib {
class Client;
}

namespace livechat::test {

using namespace std::chrono_literals;

// Reads an SSE stream from a notification service on a thread of its own, for assertions.
class SseClient {
 public:
  SseClient(int port, std::string target, std::map<std::string, std::string> headers = {});
  ~SseClient();
  SseClient(const SseClient&) = delete;
  SseClient& operator=(const SseClient&) = delete;

  // Waits for the `connected` event.
  bool wait_connected(std::chrono::milliseconds timeout = 10s);

  // Waits until at least `count` message events arrived.
  bool wait_messages(std::size_t count, std::chrono::milliseconds timeout = 10s);

  // Waits until the stream has ended.
  bool wait_ended(std::chrono::milliseconds timeout = 10s);

  std::vector<wire::sse::Event> events() const;
  std::vector<wire::sse::Event> messages() const;
  std::string raw() const;
  int status() const;
  std::string header(const std::string& name) const;
  bool ended() const;

  // Stops reading and closes the connection.
  void close();

 private:
  std::unique_ptr<httplib::Client> m_client;
  mutable std::mutex m_mutex;
  std::condition_variable m_changed;
  wire::sse::Parser m_parser;
  std::vector<wire::sse::Event> m_events;
  std::string m_raw;
  std::multimap<std::string, std::string> m_headers;
  int m_status = 0;
  bool m_ended = false;
  std::atomic<bool> m_stop{false};
  std::thread m_thread;
};

// A raw TCP connection that sends a request and then never reads: a stalled client.
class StalledClient {
 public:
  // `receive_buffer`: SO_RCVBUF in bytes (0: the kernel's own, which grows as it likes).
  StalledClient(int port, const std::string& target, int receive_buffer = 4096);
  ~StalledClient();
  StalledClient(const StalledClient&) = delete;
  StalledClient& operator=(const StalledClient&) = delete;

  // Tells whether the server has closed the connection (reading what is buffered to find out).
  bool closed_by_server();

 private:
  int m_fd = -1;
};

}  // namespace livechat::test
