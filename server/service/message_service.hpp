#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "server/http/server.hpp"
#include "server/service/chat_page.hpp"
#include "server/service/client_limits.hpp"
#include "server/service/notifier.hpp"
#include "server/service/outbox.hpp"
#include "server/store/message_store.hpp"
#include "wire/errors.hpp"
#include "wire/message.hpp"
#include "wire/result.hpp"

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace livechat::server::http {
class HttpServer;
}

namespace livechat::wire {
namespace metrics {
class Text;
}
}  // namespace livechat::wire

namespace livechat::server::service {

struct MessageServiceOptions {
  wire::Limits limits;
  // Where browsers reach the notification service; the page served at / is pointed there. No
  // default: only the caller knows where it runs one.
  std::string public_notify_url;
  // The chat page served at / (www/index.html, which cli builds in).
  std::string page_html;
  // Posts a second per client address (token bucket), with bursts of `rate_burst`; 0: no limit.
  double rate_limit = 0;
  double rate_burst = 0;  // 0: twice the rate
  // Users then need a token signed with it (wire/token.hpp) to post and read; empty: no auth.
  std::string auth_secret;
  // The largest request body taken, in bytes; 0: room for the largest content escaped as JSON.
  std::size_t max_body_bytes = 0;

  // Returns the bucket size of the rate limit: rate_burst, or twice the rate.
  double burst() const;
  // Returns the largest request body taken: max_body_bytes, or twice the largest content (its
  // JSON escapes) and 64 KiB for the rest of the post, at least the HTTP server's default.
  std::size_t body_limit() const;
};

// The REST side: takes posts, has its outbox store and forward them; serves history, health and
// the page.
class MessageService {
 public:
  // Without a notifier the store itself carries messages to the notification side (Redis).
  MessageService(store::MessageStore& store, Notifier* notifier, MessageServiceOptions options);
  MessageService(const MessageService&) = delete;
  MessageService& operator=(const MessageService&) = delete;

  // Registers the routes on a server (before it starts).
  void add_routes(http::HttpServer& http);

 private:
  // Checks a request's client (its rate) and token: the token's user (empty without auth), or
  // nothing with the rejection set on `res`.
  std::optional<std::string> check_caller(const http::HttpServer& http, const httplib::Request& req,
                                          httplib::Response& res);
  // Checks a post (its client's rate, its token, its draft, its Idempotency-Key): the draft
  // to submit, or nothing with the rejection set on `res`.
  std::optional<wire::Draft> admit(const http::HttpServer& http, const httplib::Request& req,
                                   httplib::Response& res, const std::string& body);
  // Checks a change of a message (PATCH, DELETE, a reaction) and its caller: the draft to
  // submit, or nothing with the rejection set on `res`.
  std::optional<wire::Draft> admit_change(const http::HttpServer& http, const httplib::Request& req,
                                          httplib::Response& res, const std::string& body,
                                          wire::EventKind kind);
  // Registers PATCH and DELETE /messages/{id} and PUT and DELETE of its reactions.
  void add_change_routes(http::HttpServer& http);

  // Writes the answer to a draft that was written, on the loop.
  using Answer = std::function<void(httplib::Response&, const wire::Message&)>;
  // Submits a draft to the outbox; once it is written, `reply` answers with what `answer`
  // makes of its message, or with the error it was refused with.
  void submit(wire::Draft draft, http::Reply reply, Answer answer);

  // Counts a rejected post by its code and answers it.
  void reject(httplib::Response& res, const wire::ApiError& error);
  // Counts a rejected post in the metrics.
  void count_rejection(const wire::ApiError& error);
  void render_metrics(wire::metrics::Text& text, const http::HttpServer& http) const;

  store::MessageStore& m_store;
  Notifier* m_notifier;
  MessageServiceOptions m_options;
  ChatPage m_page;
  std::unique_ptr<RateLimiter> m_rate_limiter;  // none without a rate limit
  std::atomic<std::uint64_t> m_stored{0};
  std::atomic<std::uint64_t> m_rejected{0};
  mutable std::mutex m_rejected_mutex;
  std::map<std::string, std::uint64_t> m_rejected_by;  // by error code
  // Last: it goes first, and what its thread still answers at shutdown counts in the members
  // above.
  Outbox m_outbox;
};

}  // namespace livechat::server::service
