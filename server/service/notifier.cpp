#include "server/service/notifier.hpp"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <optional>
#include <vector>

#include "server/hub/hub.hpp"
#include "wire/http_client.hpp"

namespace livechat::server::service {

void HubNotifier::forward(const std::vector<wire::Message>& messages) {
  if (messages.empty() || !m_hub.publish(messages)) {
    return;  // stopping: they stay unforwarded in the store for the next start
  }
  std::lock_guard lock(m_mutex);
  m_confirmed = messages.back().id;
}

std::string HubNotifier::confirmed() const {
  std::lock_guard lock(m_mutex);
  return m_confirmed;
}

HttpNotifier::HttpNotifier(wire::Endpoint endpoint, HttpNotifierOptions options)
    : m_endpoint(std::move(endpoint)), m_options(options), m_thread([this] { run(); }) {}

HttpNotifier::~HttpNotifier() { finish(); }

void HttpNotifier::finish() {
  {
    std::lock_guard lock(m_mutex);
    m_stopping = true;
  }
  m_wake.notify_all();
  if (m_thread.joinable()) {
    m_thread.join();
  }
}

void HttpNotifier::forward(const std::vector<wire::Message>& messages) {
  {
    std::lock_guard lock(m_mutex);
    m_queue.insert(m_queue.end(), messages.begin(), messages.end());
  }
  m_wake.notify_one();
}

std::string HttpNotifier::confirmed() const {
  std::lock_guard lock(m_mutex);
  return m_confirmed;
}

NotifierHealth HttpNotifier::health() const {
  std::lock_guard lock(m_mutex);
  return {m_reachable, m_queue.size()};
}

HttpNotifier::Outcome HttpNotifier::post(const std::string& body, std::string& failure) {
  if (!m_client) {
    m_client = wire::make_client(m_endpoint);
    if (!m_options.token.empty()) {
      m_client->set_bearer_token_auth(m_options.token);
    }
  }
  auto result = m_client->Post(m_endpoint.base_path + "/notify", body, "application/json");
  if (!result) {
    failure = wire::describe(result.error());
    m_client.reset();
    return Outcome::retry;
  }
  if (result->status >= 200 && result->status < 300) {
    return Outcome::forwarded;
  }
  failure = "HTTP " + std::to_string(result->status) + " " + result->body;
  bool rejected = result->status >= 400 && result->status < 500 && result->status != 408 &&
                  result->status != 429 && result->status != 401 && result->status != 403;
  return rejected ? Outcome::rejected : Outcome::retry;
}

void HttpNotifier::run() {
  wire::Backoff backoff(m_options.backoff);
  std::size_t cap = m_options.max_batch;  // halved while the other side rejects a batch
  std::optional<std::chrono::steady_clock::time_point> give_up_at;
  std::unique_lock lock(m_mutex);
  for (;;) {
    m_wake.wait(lock, [&] { return m_stopping || !m_queue.empty(); });
    if (m_queue.empty()) {
      return;  // stopping, nothing left
    }
    if (m_stopping && !give_up_at) {
      give_up_at = std::chrono::steady_clock::now() + m_options.drain_timeout;
    }
    // A batch: at most `cap` messages and max_batch_bytes of content, but at least one.
    std::size_t count = 0;
    std::size_t bytes = 0;
    while (count < std::min(m_queue.size(), cap) &&
           (count == 0 || bytes + m_queue[count].content.size() <= m_options.max_batch_bytes)) {
      bytes += m_queue[count].content.size();
      ++count;
    }
    std::vector<wire::Message> batch(m_queue.begin(), m_queue.begin() + static_cast<long>(count));
    lock.unlock();
    std::string body =
        count == 1 ? wire::notification_json(batch.front()) : wire::notification_array_json(batch);
    std::string failure;
    Outcome outcome = post(body, failure);
    lock.lock();
    if (outcome == Outcome::rejected && count > 1) {
      cap = count / 2;  // find the part the other side takes (a 413, or one bad message)
      continue;
    }
    if (outcome != Outcome::retry) {
      if (outcome == Outcome::rejected) {
        spdlog::error("the notification service rejects message {} ({}); skipping it",
                      batch.front().id, failure);
      }
      m_queue.erase(m_queue.begin(), m_queue.begin() + static_cast<long>(count));
      m_confirmed = batch.back().id;
      if (!m_reachable) {
        spdlog::info("notification service at {} is back; forwarding {} waiting messages",
                     m_endpoint.origin(), m_queue.size() + count);
      }
      m_reachable = true;
      backoff.reset();
      cap = m_options.max_batch;
      continue;
    }
    if (m_reachable) {
      spdlog::warn(
          "cannot reach the notification service at {} ({}); keeping {} messages "
          "and retrying",
          m_endpoint.origin(), failure, m_queue.size());
    }
    m_reachable = false;
    if (give_up_at && std::chrono::steady_clock::now() >= *give_up_at) {
      spdlog::error("stopping with {} messages not forwarded to {} (they go out at the next start)",
                    m_queue.size(), m_endpoint.origin());
      return;
    }
    m_wake.wait_for(lock, backoff.next_ceiling(), [&] { return m_stopping && !give_up_at; });
  }
}

}  // namespace livechat::server::service
