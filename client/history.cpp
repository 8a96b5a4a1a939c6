#include "client/history.hpp"

#include <httplib.h>

#include "wire/http_client.hpp"

namespace livechat::client {
namespace {

constexpr std::size_t k_page = 1000;  // the most one history request returns

}  // namespace

wire::Result<std::vector<wire::Message>> fetch_after(const wire::Endpoint& message_service,
                                                     const std::string& after_id,
                                                     const std::vector<std::string>& rooms,
                                                     const std::string& token) {
  auto client = wire::make_client(message_service);
  if (!token.empty()) {
    client->set_bearer_token_auth(token);
  }
  std::vector<wire::Message> out;
  std::string cursor = after_id;
  // One room can be asked for; several are fetched together and filtered here.
  std::string room_query = rooms.size() == 1 ? "&room=" + wire::url_encode(rooms.front()) : "";
  for (;;) {
    std::string path = message_service.base_path + "/messages?limit=" + std::to_string(k_page) +
                       "&after=" + wire::url_encode(cursor) + room_query;
    auto result = client->Get(path);
    if (!result) {
      return wire::Error{"unreachable", "cannot reach the message service at " +
                                            message_service.origin() + " (" +
                                            wire::describe(result.error()) + ")"};
    }
    if (result->status != 200) {
      return wire::Error{"history_failed", "the message service answered HTTP " +
                                               std::to_string(result->status) + " for history"};
    }
    auto page = wire::parse_stored_messages(result->body);
    if (!page) {
      return wire::Error{"bad_reply", "the message service's history is not a list of messages: " +
                                          page.error().message};
    }
    for (auto& message : *page) {
      cursor = message.id;
      if (wire::in_rooms(rooms, message.room)) {
        out.push_back(std::move(message));
      }
    }
    if (page->size() < k_page) {
      return out;
    }
  }
}

}  // namespace livechat::client
