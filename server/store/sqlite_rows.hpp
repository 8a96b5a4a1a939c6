#pragma once

// How the SQLite store's rows read as messages and events (the store's own files only).

#include <string>
#include <vector>

#include "server/store/sqlite.hpp"
#include "wire/message.hpp"

namespace livechat::server::store::sqlite {

// The columns of a message row as read_message() reads them.
inline constexpr const char* k_message_columns = "id, content, user, room, timestamp, edited";

// The columns of a change row (an edit, delete or reaction) as read_change() reads them.
inline constexpr const char* k_change_columns =
    "id, type, message_id, user, room, content, emoji, removed, timestamp";

// Reads a row of k_message_columns.
wire::Message read_message(const Statement& row);

// Reads a row of k_change_columns.
wire::Message read_change(const Statement& row);

// Returns the kind a change row's type names.
wire::EventKind change_kind(const std::string& type);

// Fills in the reactions of messages (in id order), in the order they were made.
void add_reactions(Database& db, std::vector<wire::Message>& messages);

}  // namespace livechat::server::store::sqlite
