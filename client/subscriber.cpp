#include "client/subscriber.hpp"

#include <nlohmann/json.hpp>
#include <random>

namespace livechat::client {
namespace {

// Ids remembered to drop repeats: a replay after a reconnect repeats at most the events a
// service keeps for resume (its event log: 10,000 events by default).
constexpr std::size_t k_recent_ids = 10'000;

std::string describe(const StreamEnd& end) {
  if (end.kind == StreamEnd::Kind::rejected) {
    return "HTTP " + std::to_string(end.status) + (end.detail.empty() ? "" : ": " + end.detail);
  }
  return end.detail.empty() ? "the stream ended" : end.detail;
}

// A request the service will never take (a bad room, a bad id): retrying cannot help.
bool is_final(const StreamEnd& end) {
  return end.kind == StreamEnd::Kind::rejected && end.status >= 400 && end.status < 500 &&
         end.status != 408 && end.status != 429;
}

}  // namespace

Subscriber::Subscriber(wire::Endpoint endpoint, SubscriberOptions options)
    : m_endpoint(endpoint), m_options(std::move(options)), m_stream(std::move(endpoint)) {
  m_last_id = m_options.request.last_event_id;
}

void Subscriber::stop() {
  {
    std::lock_guard lock(m_mutex);
    m_stopped = true;
  }
  m_wake.notify_all();
  m_stream.stop();
}

bool Subscriber::is_new(const std::string& id) const {
  // Only what was handed on counts, never "older than the last": one odd id (far in the future,
  // or not a timestamp at all) must not hide the real messages that follow it.
  return m_recent.count(id) == 0;
}

void Subscriber::remember(const std::string& id) {
  m_last_id = id;
  m_recent.insert(id);
  m_recent_order.push_back(id);
  if (m_recent_order.size() > k_recent_ids) {
    m_recent.erase(m_recent_order.front());
    m_recent_order.pop_front();
  }
}

bool Subscriber::deduplicate(const wire::Message& message, const std::string* json) {
  if (!m_keep_going || !is_new(message.id)) {
    return false;
  }
  remember(message.id);
  if (m_handlers != nullptr) {
    m_keep_going = m_handlers->on_message(message, json ? *json : wire::notification_json(message));
  }
  return true;
}

StreamEnd Subscriber::run(const Handlers& handlers) {
  m_handlers = &handlers;
  wire::Backoff backoff(m_options.backoff);
  std::mt19937_64 random{std::random_device{}()};
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  unsigned failures = 0;
  for (;;) {
    handlers.on_status({SubscriberStatus::Kind::connecting, {}, {}, {}});
    StreamRequest request = m_options.request;
    request.last_event_id = m_last_id;
    bool opened = false;
    std::size_t handed_on = 0;
    auto started = std::chrono::steady_clock::now();
    StreamEnd end = m_stream.run(request, [&](const wire::sse::Event& event) {
      if (event.type == "connected") {
        opened = true;
        handlers.on_status({SubscriberStatus::Kind::connected, {}, {}, {}});
      } else if (event.type == "message" || event.type == "edit" || event.type == "delete" ||
                 event.type == "reaction") {
        if (auto message = wire::parse_message_json(event.data)) {
          handed_on += deduplicate(*message, &event.data) ? 1 : 0;
        }
      } else if (event.type == "reset") {
        // {"reason":"...","last_id":"..."}: the service cannot replay what came after last_id.
        auto data = nlohmann::json::parse(event.data, nullptr, false);
        std::string last_id = m_last_id;
        std::string reason;
        if (data.is_object() && data["last_id"].is_string()) {
          last_id = data["last_id"].get<std::string>();
        }
        if (data.is_object() && data["reason"].is_string()) {
          reason = data["reason"].get<std::string>();
        }
        handlers.on_reset(last_id, reason);
      }
      return m_keep_going;
    });
    if (auto retry = m_stream.parser().retry_ms()) {
      backoff.set_server_retry(std::chrono::milliseconds(*retry));
    }
    if (end.kind == StreamEnd::Kind::stopped || !m_keep_going || is_final(end)) {
      return end;
    }
    bool healthy = opened && (handed_on > 0 || std::chrono::steady_clock::now() - started >=
                                                   m_options.healthy_after);
    if (healthy) {
      backoff.reset();
      failures = 0;
    }
    if (m_options.max_retries && failures >= *m_options.max_retries) {
      return end;
    }
    ++failures;
    auto delay = backoff.next(uniform(random));
    handlers.on_status({SubscriberStatus::Kind::reconnecting, delay, describe(end), end.code});
    std::unique_lock lock(m_mutex);
    if (m_wake.wait_for(lock, delay, [&] { return m_stopped; })) {
      return {StreamEnd::Kind::stopped, "stopped", 0, {}};
    }
  }
}

}  // namespace livechat::client
