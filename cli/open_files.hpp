#pragma once

#include <cstddef>

namespace livechat::cli {

// Sockets a notification service needs beyond its streams: publishers, health checks, the
// listener.
inline constexpr std::size_t k_spare_files = 256;

// Raises the soft open-files limit to the hard one, saying so; warns when `wanted` won't fit.
void ensure_open_files(std::size_t wanted);

}  // namespace livechat::cli
