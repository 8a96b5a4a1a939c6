#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/redis/connection.hpp"
#include "wire/message.hpp"

// How livechat keeps messages in one Redis Stream: each entry's id is the message id in the
// stream's form (<milliseconds>-<microseconds within them>), its fields are user, room, content.
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

// Reads an XRANGE reply (or one stream of an XREAD reply) into messages, oldest first; entries
// livechat did not write are skipped.
std::vector<wire::Message> read_entries(const Value& entries);

// Returns the command that appends drafts to the stream in one atomic step, stamping each with
// the next id from Redis's own clock (so every message node stamps in one order); the reply is
// read with appended_ids(). The stream is capped near `max_length` entries.
std::vector<std::string> append_command(const std::vector<const wire::Draft*>& drafts,
                                        std::size_t max_length);

// Returns the entry ids of an append_command reply.
std::vector<std::string> appended_ids(const Value& reply);

}  // namespace livechat::server::redis
