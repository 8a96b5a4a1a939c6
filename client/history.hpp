#pragma once

#include <string>
#include <vector>

#include "wire/message.hpp"
#include "wire/result.hpp"
#include "wire/url.hpp"

namespace livechat::client {

// Fetches every stored message after `after_id` from a message service's history, oldest
// first, in `rooms` (empty: every room), page by page, with a user token if not empty.
wire::Result<std::vector<wire::Message>> fetch_after(const wire::Endpoint& message_service,
                                                     const std::string& after_id,
                                                     const std::vector<std::string>& rooms,
                                                     const std::string& token = {});

}  // namespace livechat::client
