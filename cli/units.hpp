#pragma once

// The units flags speak: the option structs below cli keep durations and byte counts; flags and
// their help texts show them as people write them.

#include <chrono>
#include <cstddef>
#include <string>

namespace livechat::cli {

// Returns a duration as (fractional) seconds, as the flags give them.
inline double seconds(std::chrono::milliseconds duration) {
  return static_cast<double>(duration.count()) / 1000.0;
}

// Returns a byte count for a help text: "1 MiB", "512 KiB", or "300 bytes" when it is neither.
inline std::string bytes_text(std::size_t bytes) {
  constexpr std::size_t k_kib = 1024;
  constexpr std::size_t k_mib = 1024 * k_kib;
  if (bytes != 0 && bytes % k_mib == 0) {
    return std::to_string(bytes / k_mib) + " MiB";
  }
  if (bytes != 0 && bytes % k_kib == 0) {
    return std::to_string(bytes / k_kib) + " KiB";
  }
  return std::to_string(bytes) + " bytes";
}

}  // namespace livechat::cli
