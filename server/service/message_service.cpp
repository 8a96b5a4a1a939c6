#include "server/service/message_service.hpp"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>

#include "server/http/server.hpp"
#include "server/http/user_token.hpp"

namespace livechat::server::service {
namespace {

constexpr std::size_t k_default_history = 100;
constexpr std::size_t k_max_history = 1000;

wire::Result<store::HistoryQuery, wire::ApiError> parse_history(const httplib::Request& req) {
  auto bad = [](std::string message) {
    return wire::ApiError{wire::ApiErrorKind::bad_request, std::move(message)};
  };
  store::HistoryQuery query;
  query.limit = k_default_history;
  if (req.has_param("limit")) {
    auto text = req.get_param_value("limit");
    std::size_t limit = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), limit);
    if (ec != std::errc{} || ptr != text.data() + text.size() || limit < 1) {
      return bad("\"limit\" must be a number from 1 to " + std::to_string(k_max_history));
    }
    query.limit = std::min(limit, k_max_history);  // more is paged with `after`
  }
  for (auto [name, field] :
       {std::pair{"after", &query.after}, std::pair{"before", &query.before}}) {
    if (req.has_param(name)) {
      auto value = req.get_param_value(name);
      if (value.empty() || value.size() > 64) {
        return bad(std::string("\"") + name + "\" must be a message id");
      }
      *field = value;
    }
  }
  if (req.has_param("room")) {
    auto room = req.get_param_value("room");
    if (!wire::is_valid_room(room)) {
      return wire::ApiError{wire::ApiErrorKind::bad_room,
                            "\"room\" must be " + std::string(wire::k_room_rule)};
    }
    query.room = room;
  }
  return query;
}

}  // namespace

double MessageServiceOptions::burst() const { return rate_burst > 0 ? rate_burst : 2 * rate_limit; }

std::size_t MessageServiceOptions::body_limit() const {
  if (max_body_bytes != 0) {
    return max_body_bytes;
  }
  return std::max<std::size_t>(http::HttpServerOptions{}.max_body_bytes,
                               2 * limits.max_content_bytes + 64 * 1024);
}

MessageService::MessageService(store::MessageStore& store, Notifier* notifier,
                               MessageServiceOptions options)
    : m_store(store),
      m_notifier(notifier),
      m_options(std::move(options)),
      m_page(m_options.page_html, m_options.public_notify_url),
      m_outbox(store, notifier) {
  if (m_options.rate_limit > 0) {
    m_rate_limiter = std::make_unique<RateLimiter>(m_options.rate_limit, m_options.burst());
  }
}

void MessageService::reject(httplib::Response& res, const wire::ApiError& error) {
  count_rejection(error);
  http::send_error(res, error);
}

void MessageService::count_rejection(const wire::ApiError& error) {
  ++m_rejected;
  std::lock_guard lock(m_rejected_mutex);
  ++m_rejected_by[std::string(wire::code_word(error.kind))];
}

void MessageService::render_metrics(wire::metrics::Text& text, const http::HttpServer& http) const {
  text.counter("livechat_messages_accepted_total", "Messages stored and answered 201",
               static_cast<double>(m_stored.load()));
  text.declare("livechat_messages_rejected_total", "Posts rejected, by the error's code",
               "counter");
  {
    std::lock_guard lock(m_rejected_mutex);
    for (const auto& [code, count] : m_rejected_by) {
      text.sample("livechat_messages_rejected_total", static_cast<double>(count),
                  wire::metrics::label("reason", code));
    }
  }
  text.gauge("livechat_messages_stored", "Messages the store holds",
             static_cast<double>(m_store.size()));
  auto store = m_store.health();
  text.gauge("livechat_store_reachable", "1 when the store can be reached",
             store.reachable ? 1 : 0);
  text.gauge("livechat_store_writable",
             "1 when the store takes writes (0: disk full, read-only, locked, out of memory)",
             store.reachable && store.writable ? 1 : 0);
  if (m_notifier != nullptr) {
    auto notify = m_notifier->health();
    text.gauge("livechat_outbox_backlog", "Stored messages waiting for the notification service",
               static_cast<double>(notify.backlog));
    text.gauge("livechat_notify_reachable", "1 when the notification service takes messages",
               notify.reachable ? 1 : 0);
  }
  http.render_request_metrics(text, "message");
}

std::optional<std::string> MessageService::check_caller(const http::HttpServer& http,
                                                        const httplib::Request& req,
                                                        httplib::Response& res) {
  if (m_rate_limiter) {
    if (auto wait = m_rate_limiter->take(http.client_address(req))) {
      auto seconds = std::max<long>(1, static_cast<long>((wait->count() + 999) / 1000));
      res.set_header("Retry-After", std::to_string(seconds));
      reject(res, {wire::ApiErrorKind::rate_limited,
                   "too many messages from this address; try "
                   "again in " +
                       std::to_string(seconds) + " s"});
      return std::nullopt;
    }
  }
  auto claims = http::check_user_token(req, m_options.auth_secret);
  if (!claims) {
    reject(res, claims.error());
    return std::nullopt;
  }
  return claims->user;
}

std::optional<wire::Draft> MessageService::admit(const http::HttpServer& http,
                                                 const httplib::Request& req,
                                                 httplib::Response& res, const std::string& body) {
  auto token_user = check_caller(http, req, res);
  if (!token_user) {
    return std::nullopt;
  }
  auto draft = wire::parse_draft(body, m_options.limits);
  if (!draft) {
    spdlog::debug("POST /messages rejected: {}", draft.error().message);
    reject(res, draft.error());
    return std::nullopt;
  }
  if (const std::string& user = *token_user; !user.empty()) {
    // The token says who posts; a body naming someone else is rejected, not rewritten.
    if (draft->user != wire::k_default_user && draft->user != user) {
      reject(res,
             {wire::ApiErrorKind::forbidden,
              "this token is for \"" + user + "\"; it cannot post as \"" + draft->user + "\""});
      return std::nullopt;
    }
    draft->user = user;
  }
  if (req.has_header("Idempotency-Key")) {
    std::string key = req.get_header_value("Idempotency-Key");
    if (auto wrong = wire::check_idempotency_key(key)) {
      reject(res, *wrong);
      return std::nullopt;
    }
    draft->idempotency_key = std::move(key);
    draft->fingerprint = wire::post_fingerprint(*draft);
  }
  return std::move(*draft);
}

void MessageService::submit(wire::Draft draft, http::Reply reply, Answer answer) {
  // Answered once stored and forwarded, from the outbox's thread: no thread waits for the
  // commit, and every draft of a commit is answered by it.
  m_outbox.submit(std::move(draft),
                  [this, reply, answer = std::move(answer)](CommitQueue::Outcome outcome) {
                    if (!outcome) {
                      httplib::Response refused;
                      if (outcome.error().kind == wire::ApiErrorKind::unavailable) {
                        refused.set_header("Retry-After", "1");
                      }
                      reject(refused, outcome.error());
                      reply(std::move(refused));
                      return;
                    }
                    ++m_stored;
                    // The answer's JSON is written on the loop, off the outbox's thread.
                    reply.build([answer, message = std::move(*outcome)](httplib::Response& res) {
                      answer(res, message);
                    });
                  });
}

void MessageService::add_routes(http::HttpServer& http) {
  // POST /messages {"content":"hi","user":"ann","room":"general"}
  //   -> 201
  //   {"id":"...","content":"hi","user":"ann","room":"general","timestamp":"...","status":"sent"}
  http.post_deferred(
      "/messages",
      [this, &http](const httplib::Request& req, const std::string& body, http::Reply reply) {
        httplib::Response res;
        auto draft = admit(http, req, res, body);
        if (!draft) {
          reply(std::move(res));
          return;
        }
        // A retry with its Idempotency-Key is answered the first answer again, also 201.
        submit(std::move(*draft), std::move(reply),
               [](httplib::Response& answer, const wire::Message& stored) {
                 http::send_json(answer, 201, wire::stored_json(stored));
               });
      },
      // A body too large or too slow to read is a rejected post too.
      {.rejected = [this](const httplib::Request&, httplib::Response& res,
                          const wire::ApiError& error) { reject(res, error); },
       .gate = {}});

  add_change_routes(http);

  // A post too large to read is rejected from its head, before any route sees it.
  http.on_rejected(
      [this](const std::string& method, const std::string& path, const wire::ApiError& error) {
        if (method == "POST" && path == "/messages") {
          count_rejection(error);
        }
      });

  // GET /messages?after=ID|before=ID&limit=N&room=R -> [stored message, ...] oldest first
  // GET /messages?changes=1&before=ID&limit=N -> [stored message or change, ...] oldest first
  http.get("/messages", [this](const httplib::Request& req, httplib::Response& res) {
    if (auto claims = http::check_user_token(req, m_options.auth_secret); !claims) {
      http::send_error(res, claims.error());
      return;
    }
    auto query = parse_history(req);
    if (!query) {
      http::send_error(res, query.error());
      return;
    }
    // ?changes=1&before=ID: the log itself, changes included, as a notification node fills
    // its own from it.
    const bool log = req.get_param_value("changes") == "1";
    if (log && (query->after || query->room)) {
      http::send_error(res, {wire::ApiErrorKind::bad_request,
                             "\"changes\" pages back with \"before\" over every room"});
      return;
    }
    auto messages =
        log ? m_store.recent(query->limit, query->before.value_or("")) : m_store.query(*query);
    if (!messages) {
      res.set_header("Retry-After", "1");
      http::send_error(res, {wire::ApiErrorKind::unavailable,
                             "history cannot be read now (" + messages.error().message + ")"});
      return;
    }
    http::send_json(res, 200, wire::stored_array_json(*messages));
  });

  // GET /health -> 200 {"status":"ok","service":"message",...,"store":"sqlite",
  //                     "store_health":{"reachable":true,"writable":true},...}
  //   store not writable (posts get 503): 200 {"status":"degraded",...,"error":"...",
  //                     "store_health":{"reachable":true,"writable":false,"error":"..."}}
  //   store unreachable (nothing can be served): 503 {"status":"unavailable",...}
  http.get("/health", [this](const httplib::Request&, httplib::Response& res) {
    auto store = m_store.health();
    const bool writable = store.reachable && store.writable;
    nlohmann::json body = {
        {"status", !store.reachable ? "unavailable" : (writable ? "ok" : "degraded")},
        {"service", "message"},
        {"accepted", m_stored.load()},
        {"rejected", m_rejected.load()},
        {"stored", m_store.size()},
        {"store", m_store.kind()},
        {"store_health", {{"reachable", store.reachable}, {"writable", writable}}},
        {"auth", !m_options.auth_secret.empty()}};
    if (!writable) {
      body["error"] = store.error;
      body["store_health"]["error"] = store.error;
    }
    if (m_notifier != nullptr) {
      auto notify = m_notifier->health();
      body["notify"] = {{"reachable", notify.reachable}, {"backlog", notify.backlog}};
    }
    http::send_json(res, store.reachable ? 200 : 503,
                    body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  });

  // GET /metrics -> Prometheus text
  http.get("/metrics", [this, &http](const httplib::Request&, httplib::Response& res) {
    wire::metrics::Text text;
    render_metrics(text, http);
    res.set_content(text.str(), std::string(wire::metrics::k_content_type));
  });

  // GET / -> the chat page, pointed at this deployment, allowed to talk to nothing else
  http.get("/", [this](const httplib::Request& req, httplib::Response& res) {
    res.set_header("Cache-Control", "no-cache");
    res.set_header("Content-Security-Policy",
                   m_page.content_security_policy(req.get_header_value("Host")));
    res.set_header("X-Frame-Options", "DENY");
    res.set_content(m_page.html(), "text/html; charset=utf-8");
  });
}

}  // namespace livechat::server::service
