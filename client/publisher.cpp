#include "client/publisher.hpp"

#include <httplib.h>

#include <nlohmann/json.hpp>

#include "wire/errors.hpp"
#include "wire/http_client.hpp"

namespace livechat::client {

Publisher::Publisher(wire::Endpoint endpoint, const std::string& token)
    : m_endpoint(std::move(endpoint)), m_client(wire::make_client(m_endpoint)) {
  if (!token.empty()) {
    m_client->set_bearer_token_auth(token);
  }
}

Publisher::~Publisher() = default;

wire::Result<wire::Message> Publisher::send(const std::string& content, const std::string& user,
                                            const std::string& room) {
  nlohmann::json body = {{"content", content}};
  if (!user.empty()) {
    body["user"] = user;
  }
  if (!room.empty()) {
    body["room"] = room;
  }
  std::string text = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  auto result = m_client->Post(m_endpoint.base_path + "/messages", text, "application/json");
  if (!result) {
    auto why = wire::describe(result.error());
    return wire::Error{
        wire::transport_code(result.error()),
        "cannot reach the message service at " + m_endpoint.origin() + " (" + why + ")"};
  }
  if (result->status != 201) {
    auto reply = wire::parse_error_body(result->body);
    std::string why = reply ? reply->message : result->body;
    std::string code =
        reply && !reply->code.empty() ? reply->code : "http_" + std::to_string(result->status);
    return wire::Error{code, "the message service rejected the message: " + why + " (HTTP " +
                                 std::to_string(result->status) + ")"};
  }
  auto message = wire::parse_message_json(result->body);
  if (!message) {
    return wire::Error{"bad_reply", "the message service sent a reply that is not a message: " +
                                        message.error().message};
  }
  return *message;
}

}  // namespace livechat::client
