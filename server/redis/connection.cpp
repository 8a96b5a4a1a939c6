#include "server/redis/connection.hpp"

#include <hiredis/hiredis.h>

#include <sys/socket.h>
#include <sys/time.h>

namespace livechat::server::redis {
namespace {

timeval to_timeval(std::chrono::milliseconds ms) {
  return {static_cast<time_t>(ms.count() / 1000),
          static_cast<suseconds_t>((ms.count() % 1000) * 1000)};
}

Value copy(const redisReply& reply) {
  Value value;
  switch (reply.type) {
    case REDIS_REPLY_STRING:
      value.type = Value::Type::string;
      value.text.assign(reply.str, reply.len);
      break;
    case REDIS_REPLY_STATUS:
      value.type = Value::Type::status;
      value.text.assign(reply.str, reply.len);
      break;
    case REDIS_REPLY_ERROR:
      value.type = Value::Type::error;
      value.text.assign(reply.str, reply.len);
      break;
    case REDIS_REPLY_INTEGER:
      value.type = Value::Type::integer;
      value.integer = reply.integer;
      break;
    case REDIS_REPLY_ARRAY:
      value.type = Value::Type::array;
      value.items.reserve(reply.elements);
      for (std::size_t i = 0; i < reply.elements; ++i) {
        value.items.push_back(copy(*reply.element[i]));
      }
      break;
    default:
      break;  // nil
  }
  return value;
}

}  // namespace

Connection::Connection(wire::RedisAddress address, std::chrono::milliseconds timeout)
    : m_address(std::move(address)), m_timeout(timeout) {}

Connection::~Connection() { drop(); }

void Connection::interrupt() {
  std::lock_guard lock(m_fd_mutex);
  m_interrupted = true;
  if (m_fd >= 0) {
    ::shutdown(m_fd, SHUT_RDWR);
  }
}

void Connection::drop() {
  {
    std::lock_guard lock(m_fd_mutex);
    m_fd = -1;
  }
  if (m_context != nullptr) {
    redisFree(m_context);
    m_context = nullptr;
  }
}

wire::Result<bool> Connection::connect() {
  auto fail = [&](const std::string& why) {
    drop();
    return wire::Error{"redis_unreachable", "Redis at " + m_address.text() + ": " + why};
  };
  m_context =
      redisConnectWithTimeout(m_address.host.c_str(), m_address.port, to_timeval(m_timeout));
  if (m_context == nullptr) {
    return fail("out of memory");
  }
  if (m_context->err != 0) {
    return fail(m_context->errstr);
  }
  {
    std::lock_guard lock(m_fd_mutex);
    if (m_interrupted) {
      return fail("stopped");
    }
    m_fd = m_context->fd;
  }
  redisSetTimeout(m_context, to_timeval(m_timeout));
  redisEnableKeepAlive(m_context);
  std::vector<std::vector<std::string>> hello;
  if (!m_address.password.empty()) {
    if (m_address.user.empty()) {
      hello.push_back({"AUTH", m_address.password});
    } else {
      hello.push_back({"AUTH", m_address.user, m_address.password});
    }
  }
  if (m_address.db != 0) {
    hello.push_back({"SELECT", std::to_string(m_address.db)});
  }
  for (const auto& args : hello) {
    auto reply = command(args);
    if (!reply) {
      drop();  // a connection without its AUTH or SELECT must not be used
      return wire::Error{
          reply.error().code == "redis_unreachable" ? reply.error().code : "redis_rejected",
          reply.error().message + " (" + args.front() + ")"};
    }
  }
  return true;
}

wire::Result<Value> Connection::read(const std::vector<std::string>& args) {
  bool was_open = m_context != nullptr;
  auto reply = command(args);
  if (!reply && was_open && reply.error().code == "redis_unreachable") {
    reply = command(args);
  }
  return reply;
}

wire::Result<Value> Connection::command(const std::vector<std::string>& args) {
  {
    std::lock_guard lock(m_fd_mutex);
    if (m_interrupted) {
      return wire::Error{"redis_unreachable", "Redis at " + m_address.text() + ": stopped"};
    }
  }
  if (m_context == nullptr) {
    auto connected = connect();
    if (!connected) {
      return connected.error();
    }
  }
  std::vector<const char*> argv;
  std::vector<std::size_t> lengths;
  argv.reserve(args.size());
  lengths.reserve(args.size());
  for (const auto& arg : args) {
    argv.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  auto* reply = static_cast<redisReply*>(
      redisCommandArgv(m_context, static_cast<int>(argv.size()), argv.data(), lengths.data()));
  if (reply == nullptr) {
    std::string why = m_context->errstr[0] != '\0' ? m_context->errstr : "connection lost";
    drop();
    return wire::Error{"redis_unreachable", "Redis at " + m_address.text() + ": " + why};
  }
  Value value = copy(*reply);
  freeReplyObject(reply);
  if (value.is_error()) {
    bool rejected = value.text.rfind("NOAUTH", 0) == 0 || value.text.rfind("WRONGPASS", 0) == 0;
    return wire::Error{rejected ? "redis_rejected" : "redis_error",
                       "Redis at " + m_address.text() + ": " + value.text};
  }
  return value;
}

}  // namespace livechat::server::redis
