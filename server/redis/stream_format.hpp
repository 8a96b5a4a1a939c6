#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/redis/connection.hpp"
#include "wire/message.hpp"

// How livechat keeps messages in one Redis Stream: each entry's id is the event id in the
// stream's form (<milliseconds>-<microseconds within them>). A message's fields are user, room,
// content; an edit, delete or reaction also has type ("edit", "delete", "reaction") and
// message_id, and an edit its content, a reaction its emoji and action ("add", "remove").
namespace livechat::server::redis {

// The one stream of a deployment: a single ordered log across rooms, read whole by every node.
inline constexpr std::string_view k_stream_key = "livechat:messages";

// Converts a message id (YYYYMMDDhhmmss.ffffff) to its entry id; nothing if it is not one.
std::optional<std::string> entry_id(std::string_view message_id);

// Converts an entry id livechat wrote back to the message id and timestamp it stands for.
std::optional<std::pair<std::string, std::string>> message_stamp(std::string_view entry_id);

// Returns the smallest entry id after `entry` and the largest before it (for exclusive ranges
// on any Redis with streams; the "(" syntax needs 6.2); nothing if `entry` is not an entry id
// or has no neighbour on that side.
std::optional<std::string> next_entry(std::string_view entry);
std::optional<std::string> previous_entry(std::string_view entry);

// Returns the kind of event an entry's "type" names (an entry without one is a message).
std::optional<wire::EventKind> entry_kind(std::string_view type);

// Reads an XRANGE reply (or one stream of an XREAD reply) into events, oldest first; entries
// livechat did not write are skipped.
std::vector<wire::Message> read_entries(const Value& entries);

}  // namespace livechat::server::redis
