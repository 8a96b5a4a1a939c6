#include "client/publisher.hpp"

#include <httplib.h>

#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "wire/backoff.hpp"
#include "wire/errors.hpp"
#include "wire/http_client.hpp"

namespace livechat::client {
namespace {

// Tells whether a failed request may have reached the service: then only a retry with its
// key (or of a change, which is the same change twice) can tell.
bool answer_lost(httplib::Error error) {
  return error == httplib::Error::Read || error == httplib::Error::Write;
}

std::string json_text(const nlohmann::json& body) {
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

std::string new_idempotency_key() {
  // 128 bits straight from the system's source: a key must not repeat across processes either
  // (a script that runs `livechat send` once a message makes one per process).
  std::random_device random;
  std::string out;
  for (int i = 0; i < 4; ++i) {
    char part[9];
    std::snprintf(part, sizeof part, "%08x", static_cast<unsigned>(random()));
    out += part;
  }
  return out;
}

Publisher::Publisher(wire::Endpoint endpoint, const std::string& token, RetryPolicy retry)
    : m_endpoint(std::move(endpoint)), m_retry(retry), m_client(wire::make_client(m_endpoint)) {
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
  return request("POST", "/messages", json_text(body), new_idempotency_key(), 201, "message");
}

wire::Result<wire::Message> Publisher::edit(const std::string& id, const std::string& content,
                                            const std::string& user) {
  nlohmann::json body = {{"content", content}};
  if (!user.empty()) {
    body["user"] = user;
  }
  return request("PATCH", "/messages/" + wire::url_encode(id), json_text(body), "", 200, "edit");
}

wire::Result<wire::Message> Publisher::remove(const std::string& id, const std::string& user) {
  nlohmann::json body = nlohmann::json::object();
  if (!user.empty()) {
    body["user"] = user;
  }
  return request("DELETE", "/messages/" + wire::url_encode(id), json_text(body), "", 200, "delete");
}

wire::Result<wire::Message> Publisher::react(const std::string& id, const std::string& emoji,
                                             const std::string& user, bool add) {
  nlohmann::json body = nlohmann::json::object();
  if (!user.empty()) {
    body["user"] = user;
  }
  return request(add ? "PUT" : "DELETE",
                 "/messages/" + wire::url_encode(id) + "/reactions/" + wire::url_encode(emoji),
                 json_text(body), "", 200, "reaction");
}

wire::Result<wire::Message> Publisher::request(const std::string& method, const std::string& path,
                                               const std::string& body, const std::string& key,
                                               int expected, const std::string& what) {
  wire::Backoff backoff({m_retry.initial, m_retry.max});
  std::mt19937 random{std::random_device{}()};
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  httplib::Headers headers;
  if (!key.empty()) {
    headers.emplace("Idempotency-Key", key);
  }
  for (unsigned attempt = 1;; ++attempt) {
    httplib::Request req;
    req.method = method;
    req.path = m_endpoint.base_path + path;
    req.headers = headers;
    req.body = body;
    req.set_header("Content-Type", "application/json");
    httplib::Response res;
    httplib::Error error = httplib::Error::Success;
    const bool sent = m_client->send(req, res, error);
    const bool retry = attempt < m_retry.attempts &&
                       ((!sent && answer_lost(error)) || (sent && res.status == 503));
    if (sent && attempt > 1 && method == "DELETE" && res.status == 410 &&
        path.find("/reactions/") == std::string::npos) {
      // The try whose answer was lost deleted it.
      wire::Message deleted;
      deleted.id = path.substr(path.rfind('/') + 1);
      deleted.kind = wire::EventKind::deletion;
      return deleted;
    }
    if (retry) {
      std::this_thread::sleep_for(backoff.next(uniform(random)));
      continue;
    }
    if (!sent) {
      return wire::Error{wire::transport_code(error), "cannot reach the message service at " +
                                                          m_endpoint.origin() + " (" +
                                                          wire::describe(error) + ")"};
    }
    if (res.status != expected) {
      auto reply = wire::parse_error_body(res.body);
      std::string why = reply ? reply->message : res.body;
      std::string code =
          reply && !reply->code.empty() ? reply->code : "http_" + std::to_string(res.status);
      return wire::Error{code, "the message service rejected the " + what + ": " + why + " (HTTP " +
                                   std::to_string(res.status) + ")"};
    }
    nlohmann::json answer = nlohmann::json::parse(res.body, nullptr, false);
    if (answer.is_object() && answer.contains("deleted") && answer["deleted"].is_boolean() &&
        answer["deleted"].get<bool>() && answer.contains("id") && answer["id"].is_string()) {
      wire::Message deleted;
      deleted.id = answer["id"].get<std::string>();
      deleted.kind = wire::EventKind::deletion;
      return deleted;
    }
    auto message = wire::parse_message_json(res.body);
    if (!message) {
      return wire::Error{"bad_reply", "the message service sent a reply that is not a message: " +
                                          message.error().message};
    }
    return *message;
  }
}

}  // namespace livechat::client
