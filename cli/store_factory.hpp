#pragma once

#include <memory>

#include "cli/service_options.hpp"
#include "server/store/message_store.hpp"

namespace livechat::cli {

// Opens the message store (Redis with --redis, else SQLite at --db), or throws a UserError that
// says what is wrong with it.
std::unique_ptr<server::store::MessageStore> open_store(const MessageOptions& options);

}  // namespace livechat::cli
