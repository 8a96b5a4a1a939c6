#include "server/service/log_fill.hpp"

#include <httplib.h>

#include <algorithm>
#include <optional>
#include <thread>
#include <vector>

#include "server/hub/hub.hpp"
#include "wire/http_client.hpp"

namespace livechat::server::service {
namespace {

// One attempt's outcome: the messages, or an error and whether another attempt may help.
struct Attempt {
  std::vector<wire::Message> messages;
  std::optional<wire::Error> error;
  bool retry = false;
};

// Reads the newest `max` messages, oldest first, paging back from the newest.
Attempt read_newest(const wire::Endpoint& endpoint, const HistoryFillOptions& options) {
  // A refused connection answers at once; a host that drops packets must not hold the start.
  auto client =
      wire::make_client(endpoint, {std::chrono::milliseconds(1000), std::chrono::milliseconds(5000),
                                   std::chrono::milliseconds(5000)});
  if (!options.token.empty()) {
    client->set_bearer_token_auth(options.token);
  }
  std::vector<std::vector<wire::Message>> pages;  // newest first
  std::size_t total = 0;
  std::string before;
  while (total < options.max_messages) {
    const std::size_t limit =
        std::min(std::max<std::size_t>(1, options.page), options.max_messages - total);
    // With the changes: every event of the log, so that a resume across the restart replays
    // an edit or a delete too (a message service that predates them ignores the parameter).
    std::string path = endpoint.base_path + "/messages?changes=1&limit=" + std::to_string(limit);
    if (!before.empty()) {
      path += "&before=" + wire::url_encode(before);
    }
    auto result = client->Get(path);
    if (!result) {
      return {
          {},
          wire::Error{"unreachable", "cannot reach the message service at " + endpoint.origin() +
                                         " (" + wire::describe(result.error()) + ")"},
          true};
    }
    if (result->status == 401 || result->status == 403) {
      return {{},
              wire::Error{"unauthorized",
                          "the message service at " + endpoint.origin() + " answered HTTP " +
                              std::to_string(result->status) +
                              " for its history: it wants a user token signed with its auth "
                              "secret (give this service the same one)"},
              false};
    }
    if (result->status != 200) {
      return {{},
              wire::Error{"history_failed", "the message service at " + endpoint.origin() +
                                                " answered HTTP " + std::to_string(result->status) +
                                                " for its history"},
              result->status >= 500 || result->status == 429};
    }
    auto page = wire::parse_stored_messages(result->body);
    if (!page) {
      return {{},
              wire::Error{"bad_reply", "the history of " + endpoint.origin() +
                                           " is not a list of messages: " + page.error().message},
              false};
    }
    const bool last = page->size() < limit;
    total += page->size();
    if (!page->empty()) {
      before = page->front().id;
      pages.push_back(std::move(*page));
    }
    if (last) {
      break;
    }
  }
  Attempt out;
  out.messages.reserve(total);
  for (auto it = pages.rbegin(); it != pages.rend(); ++it) {
    out.messages.insert(out.messages.end(), std::make_move_iterator(it->begin()),
                        std::make_move_iterator(it->end()));
  }
  return out;
}

wire::Result<HistoryFill> publish(hub::Hub& hub, const std::vector<wire::Message>& messages,
                                  unsigned attempts) {
  if (!messages.empty() && !hub.publish(messages)) {
    return wire::Error{"stopping", "the hub is shutting down"};
  }
  return HistoryFill{messages.size(), messages.empty() ? "" : messages.back().id, attempts};
}

}  // namespace

wire::Result<HistoryFill> fill_from_history(hub::Hub& hub, const wire::Endpoint& message_service,
                                            const HistoryFillOptions& options) {
  const auto give_up_at = std::chrono::steady_clock::now() + options.give_up_after;
  wire::Backoff backoff(options.backoff);
  for (unsigned attempts = 1;; ++attempts) {
    auto attempt = read_newest(message_service, options);
    if (!attempt.error) {
      return publish(hub, attempt.messages, attempts);
    }
    auto wait = backoff.next_ceiling();
    if (!attempt.retry || std::chrono::steady_clock::now() + wait > give_up_at) {
      return *attempt.error;
    }
    std::this_thread::sleep_for(wait);
  }
}

wire::Result<HistoryFill> fill_from_store(hub::Hub& hub, const store::MessageStore& store,
                                          std::size_t max_messages) {
  // The log's newest events, changes included, so that a resume across the restart replays
  // an edit or a delete as it would have without one.
  auto messages = store.recent(max_messages, "");
  if (!messages) {
    return messages.error();
  }
  return publish(hub, *messages, 1);
}

}  // namespace livechat::server::service
