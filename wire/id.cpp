#include "wire/id.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace livechat::wire {
namespace {

struct Parts {
  std::tm tm{};
  long micros = 0;
};

Parts split(std::int64_t micros) {
  std::int64_t seconds = micros / 1'000'000;
  long fraction = static_cast<long>(micros % 1'000'000);
  if (fraction < 0) {
    fraction += 1'000'000;
    seconds -= 1;
  }
  Parts parts;
  std::time_t t = static_cast<std::time_t>(seconds);
  gmtime_r(&t, &parts.tm);
  parts.micros = fraction;
  return parts;
}

}  // namespace

std::int64_t system_micros() {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

std::string format_id(std::int64_t micros) {
  Parts p = split(micros);
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%04d%02d%02d%02d%02d%02d.%06ld", p.tm.tm_year + 1900,
                p.tm.tm_mon + 1, p.tm.tm_mday, p.tm.tm_hour, p.tm.tm_min, p.tm.tm_sec, p.micros);
  return buffer;
}

std::string format_timestamp(std::int64_t micros) {
  Parts p = split(micros);
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", p.tm.tm_year + 1900,
                p.tm.tm_mon + 1, p.tm.tm_mday, p.tm.tm_hour, p.tm.tm_min, p.tm.tm_sec, p.micros);
  return buffer;
}

std::optional<std::int64_t> parse_id(std::string_view id) {
  if (id.size() != 21 || id[14] != '.') {
    return std::nullopt;
  }
  auto number = [&](std::size_t from, std::size_t count) -> std::optional<int> {
    int value = 0;
    for (std::size_t i = from; i < from + count; ++i) {
      if (id[i] < '0' || id[i] > '9') {
        return std::nullopt;
      }
      value = value * 10 + (id[i] - '0');
    }
    return value;
  };
  auto year = number(0, 4);
  auto month = number(4, 2);
  auto day = number(6, 2);
  auto hour = number(8, 2);
  auto minute = number(10, 2);
  auto second = number(12, 2);
  auto micros = number(15, 6);
  if (!year || !month || !day || !hour || !minute || !second || !micros || *month < 1 ||
      *month > 12 || *day < 1 || *day > 31 || *hour > 23 || *minute > 59 || *second > 60) {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = *year - 1900;
  tm.tm_mon = *month - 1;
  tm.tm_mday = *day;
  tm.tm_hour = *hour;
  tm.tm_min = *minute;
  tm.tm_sec = *second;
  std::int64_t result = static_cast<std::int64_t>(timegm(&tm)) * 1'000'000 + *micros;
  if (format_id(result) != id) {
    return std::nullopt;  // a date that does not exist, such as February 30th
  }
  return result;
}

IdGenerator::IdGenerator(Clock clock) : m_clock(std::move(clock)) {}

Stamp IdGenerator::next() {
  std::int64_t now = m_clock();
  std::int64_t chosen = 0;
  {
    std::lock_guard lock(m_mutex);
    chosen = now > m_last ? now : m_last + 1;
    m_last = chosen;
  }
  return {format_id(chosen), format_timestamp(chosen)};
}

void IdGenerator::observe(std::string_view id) {
  if (auto micros = parse_id(id)) {
    std::lock_guard lock(m_mutex);
    if (*micros > m_last) {
      m_last = *micros;
    }
  }
}

}  // namespace livechat::wire
