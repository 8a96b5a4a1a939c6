#include <httplib.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "server/http/server.hpp"
#include "server/service/message_service.hpp"

// The message service's changes of a stored message: edits, deletes and reactions. Each is a
// draft like a post, written by the outbox in the one ordered log, which checks it against
// the message it changes (its author, whether it is there, whether it was deleted).

namespace livechat::server::service {
namespace {

constexpr std::string_view k_messages = "/messages/";
constexpr std::string_view k_reactions = "/reactions/";

// What a change's path names: the message, and for a reaction its emoji.
struct Target {
  std::string message_id;
  std::string emoji;
};

// Reads /messages/{id} (or, for a reaction, /messages/{id}/reactions/{emoji}, percent-decoded).
wire::Result<Target, wire::ApiError> read_target(const std::string& path, bool reaction) {
  std::string_view rest = std::string_view(path).substr(k_messages.size());
  Target target;
  auto slash = rest.find('/');
  target.message_id = std::string(rest.substr(0, slash));
  if (target.message_id.empty() || target.message_id.size() > wire::k_max_id_bytes) {
    return wire::ApiError{wire::ApiErrorKind::bad_id, "the path must name a message id"};
  }
  if (!reaction) {
    if (slash != std::string_view::npos) {
      return wire::error_for_status(404);
    }
    return target;
  }
  if (slash == std::string_view::npos || rest.substr(slash, k_reactions.size()) != k_reactions) {
    return wire::error_for_status(404);
  }
  target.emoji = std::string(rest.substr(slash + k_reactions.size()));
  if (auto wrong = wire::check_emoji(target.emoji)) {
    return *wrong;
  }
  return target;
}

}  // namespace

std::optional<wire::Draft> MessageService::admit_change(const http::HttpServer& http,
                                                        const httplib::Request& req,
                                                        httplib::Response& res,
                                                        const std::string& body,
                                                        wire::EventKind kind) {
  auto target = read_target(req.path, kind == wire::EventKind::reaction);
  if (!target) {
    reject(res, target.error());
    return std::nullopt;
  }
  auto token_user = check_caller(http, req, res);
  if (!token_user) {
    return std::nullopt;
  }
  auto change = wire::parse_change(body, m_options.limits, kind == wire::EventKind::edit);
  if (!change) {
    reject(res, change.error());
    return std::nullopt;
  }
  // The caller: the token's user; without auth, the body's "user" or ?user=.
  std::string named = !change->user.empty() ? change->user : req.get_param_value("user");
  const bool printable =
      wire::is_valid_utf8(named) && std::none_of(named.begin(), named.end(), [](char c) {
        return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
      });
  if (!printable) {
    reject(res, {wire::ApiErrorKind::bad_user,
                 "\"user\" must be UTF-8 text without control characters"});
    return std::nullopt;
  }
  if (named.size() > m_options.limits.max_user_bytes) {
    reject(res, {wire::ApiErrorKind::bad_user, "\"user\" is longer than " +
                                                   std::to_string(m_options.limits.max_user_bytes) +
                                                   " bytes"});
    return std::nullopt;
  }
  wire::Draft draft;
  if (!token_user->empty()) {
    if (!named.empty() && named != *token_user) {
      reject(res, {wire::ApiErrorKind::forbidden, "this token is for \"" + *token_user +
                                                      "\"; it cannot act as \"" + named + "\""});
      return std::nullopt;
    }
    draft.user = *token_user;
  } else {
    draft.user = named.empty() ? std::string(wire::k_default_user) : std::move(named);
  }
  draft.kind = kind;
  draft.message_id = std::move(target->message_id);
  draft.emoji = std::move(target->emoji);
  draft.content = std::move(change->content);
  return draft;
}

void MessageService::add_change_routes(http::HttpServer& http) {
  const std::string prefix(k_messages);
  auto answer_state = [](httplib::Response& res, const wire::Message& message) {
    http::send_json(res, 200, wire::stored_json(message));
  };
  auto route = [this, &http](wire::EventKind kind, bool removed, Answer answer) {
    return [this, &http, kind, removed, answer](const httplib::Request& req,
                                                const std::string& body, http::Reply reply) {
      httplib::Response res;
      auto draft = admit_change(http, req, res, body, kind);
      if (!draft) {
        reply(std::move(res));
        return;
      }
      draft->removed = removed;
      submit(std::move(*draft), std::move(reply), answer);
    };
  };
  // PATCH /messages/{id} {"content":"new text"} -> 200 the message in its new state, with
  // "edited"
  http.deferred("PATCH", prefix, route(wire::EventKind::edit, false, answer_state));
  // PUT /messages/{id}/reactions/{emoji} -> 200 the message, with "reactions"
  http.deferred("PUT", prefix, route(wire::EventKind::reaction, false, answer_state));
  // DELETE /messages/{id} -> 200 {"id":"...","deleted":true}
  // DELETE /messages/{id}/reactions/{emoji} -> 200 the message
  auto remove_message = route(wire::EventKind::deletion, false,
                              [](httplib::Response& res, const wire::Message& message) {
                                http::send_json(res, 200, wire::deleted_json(message.id));
                              });
  auto remove_reaction = route(wire::EventKind::reaction, true, answer_state);
  http.deferred("DELETE", prefix,
                [remove_message, remove_reaction](const httplib::Request& req,
                                                  const std::string& body, http::Reply reply) {
                  const bool reaction =
                      req.path.find(k_reactions, k_messages.size()) != std::string::npos;
                  (reaction ? remove_reaction : remove_message)(req, body, std::move(reply));
                });
}

}  // namespace livechat::server::service
