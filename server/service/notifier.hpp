#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "wire/backoff.hpp"
#include "wire/message.hpp"
#include "wire/url.hpp"

namespace httplib {
class Client;
}  // namespace httplib

namespace livechat::server::hub {
class Hub;
}

namespace livechat::server::service {

// What the message service knows of the notification side.
struct NotifierHealth {
  bool reachable = true;
  std::size_t backlog = 0;
};

// The one seam through which the message service forwards stored messages to the notification
// side; the outbox is its one caller.
class Notifier {
 public:
  virtual ~Notifier() = default;
  // Forwards stored messages, in store order; never waits on the notification side.
  virtual void forward(const std::vector<wire::Message>& messages) = 0;
  // Returns the id of the newest message the notification side confirmed, empty if none yet.
  virtual std::string confirmed() const = 0;
  // Forwards what is still queued, for as long as the notifier allows, then forwards no more.
  virtual void finish() = 0;
  // Returns whether the notification side is reachable and how much waits for it.
  virtual NotifierHealth health() const = 0;
};

// Forwards straight into a hub in the same process (both services in one), which confirms at
// once.
class HubNotifier final : public Notifier {
 public:
  explicit HubNotifier(hub::Hub& hub) : m_hub(hub) {}
  void forward(const std::vector<wire::Message>& messages) override;
  std::string confirmed() const override;
  void finish() override {}
  NotifierHealth health() const override { return {}; }

 private:
  hub::Hub& m_hub;
  mutable std::mutex m_mutex;
  std::string m_confirmed;
};

// Tuning of the HTTP hop to a notification service.
struct HttpNotifierOptions {
  // A backlog goes out as JSON arrays of at most this many notifications...
  std::size_t max_batch = 256;
  // ...and this much content, well under what a notification service takes in one body.
  std::size_t max_batch_bytes = 512 * 1024;
  // Between attempts while the notification service is unreachable, doubling, no jitter.
  wire::BackoffPolicy backoff{std::chrono::milliseconds(100), std::chrono::milliseconds(5000)};
  // How long stopping waits for what is still queued to go out.
  std::chrono::milliseconds drain_timeout{2000};
  // Sent as "Authorization: Bearer <token>" when set (the notification service's notify token).
  std::string token;
};

// POSTs messages to a notification service's /notify over one kept-alive connection, in order,
// from a queue: batches when a backlog built up, retries with backoff while it is unreachable.
class HttpNotifier final : public Notifier {
 public:
  HttpNotifier(wire::Endpoint endpoint, HttpNotifierOptions options = {});
  ~HttpNotifier() override;
  HttpNotifier(const HttpNotifier&) = delete;
  HttpNotifier& operator=(const HttpNotifier&) = delete;

  void forward(const std::vector<wire::Message>& messages) override;
  std::string confirmed() const override;
  // Waits at most drain_timeout for the notification side to take what is queued.
  void finish() override;
  NotifierHealth health() const override;

 private:
  enum class Outcome { forwarded, retry, rejected };

  void run();
  Outcome post(const std::string& body, std::string& failure);

  wire::Endpoint m_endpoint;
  HttpNotifierOptions m_options;
  std::unique_ptr<httplib::Client> m_client;  // used by the forwarding thread only
  mutable std::mutex m_mutex;
  std::condition_variable m_wake;
  std::deque<wire::Message> m_queue;
  std::string m_confirmed;
  bool m_stopping = false;
  bool m_reachable = true;
  std::thread m_thread;
};

}  // namespace livechat::server::service
