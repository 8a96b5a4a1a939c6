#include "cli/store_factory.hpp"

#include <spdlog/spdlog.h>

#include "cli/addresses.hpp"
#include "cli/command.hpp"
#include "server/store/redis_store.hpp"
#include "server/store/sqlite.hpp"
#include "server/store/sqlite_store.hpp"

namespace livechat::cli {

std::unique_ptr<server::store::MessageStore> open_store(const MessageOptions& o) {
  if (!o.redis_url.empty()) {
    auto address = require_redis(o.redis_url);
    server::store::RedisStoreOptions options;
    options.max_length = o.redis_max_messages;
    spdlog::info("messages are kept in the Redis stream at {} (about {} at most)", address.text(),
                 o.redis_max_messages);
    return std::make_unique<server::store::RedisStore>(address, options);
  }
  try {
    auto store = std::make_unique<server::store::SqliteStore>(o.db);
    spdlog::info("messages are kept in {} ({} stored)", o.db, store->size());
    return store;
  } catch (const server::store::sqlite::Error& error) {
    throw UserError("--db " + o.db + ": " + error.what() +
                    " (give a writable SQLite file, or :memory:)");
  }
}

}  // namespace livechat::cli
