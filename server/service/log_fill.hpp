#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "server/hub/event_log.hpp"
#include "server/store/message_store.hpp"
#include "wire/backoff.hpp"
#include "wire/result.hpp"
#include "wire/url.hpp"

namespace livechat::server::hub {
class Hub;
}

namespace livechat::server::service {

// How a notification node fills its event log from the message service's history at start.
struct HistoryFillOptions {
  // The newest this many messages: the log's size (older ones would be trimmed at once).
  std::size_t max_messages = hub::EventLogLimits{}.max_events;
  // Messages asked for per request: the most one GET /messages returns.
  std::size_t page = 1000;
  // Sent as "Authorization: Bearer <token>" when set: the user token a message service run
  // with an auth secret wants for its history.
  std::string token;
  // A node that cannot reach the message service starts anyway within about this long, with an
  // empty log: its streams are wanted more than their replay.
  std::chrono::milliseconds give_up_after{5000};
  // Between attempts while the message service is unreachable, doubling, no jitter.
  wire::BackoffPolicy backoff{std::chrono::milliseconds(100), std::chrono::milliseconds(1000)};
};

// What a fill put into the log.
struct HistoryFill {
  std::size_t messages = 0;
  std::string newest;  // the id of the newest message, empty if none
  unsigned attempts = 1;
};

// Reads the newest messages of a message service's history (GET /messages, newest page first,
// paged back with `before` up to max_messages) and publishes them into the hub oldest first,
// so that a stream resuming on a restarted node gets a replay instead of a reset. Call it
// before the node serves. Retries with backoff while the service is unreachable or answers 5xx,
// for at most give_up_after; an error says why it gave up (`unauthorized` when the service
// wants a token it was not given or refuses the one it was).
wire::Result<HistoryFill> fill_from_history(hub::Hub& hub, const wire::Endpoint& message_service,
                                            const HistoryFillOptions& options = {});

// Publishes the newest `max_messages` messages of a store in the same process into the hub,
// oldest first (both services in one process).
wire::Result<HistoryFill> fill_from_store(hub::Hub& hub, const store::MessageStore& store,
                                          std::size_t max_messages);

}  // namespace livechat::server::service
