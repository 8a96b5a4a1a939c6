#include "wire/sse.hpp"

#include <algorithm>

namespace livechat::wire::sse {
namespace {

// Calls `line_fn` for each line of `text`, split at CRLF, LF or CR.
template <typename Fn>
void for_each_line(std::string_view text, Fn line_fn) {
  std::size_t start = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r' || text[i] == '\n') {
      line_fn(text.substr(start, i - start));
      if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
        ++i;
      }
      start = i + 1;
    }
  }
  line_fn(text.substr(start));
}

}  // namespace

std::string encode_event(std::string_view id, std::string_view type, std::string_view data) {
  std::string out;
  out.reserve(data.size() + id.size() + type.size() + 32);
  if (!id.empty()) {
    out.append("id: ").append(id).push_back('\n');
  }
  if (!type.empty()) {
    out.append("event: ").append(type).push_back('\n');
  }
  for_each_line(data,
                [&](std::string_view line) { out.append("data: ").append(line).push_back('\n'); });
  out.push_back('\n');
  return out;
}

std::string encode_comment(std::string_view text) {
  std::string out;
  for_each_line(text,
                [&](std::string_view line) { out.append(": ").append(line).push_back('\n'); });
  out.push_back('\n');
  return out;
}

std::string encode_retry(long milliseconds) {
  return "retry: " + std::to_string(milliseconds) + "\n\n";
}

bool Parser::feed(std::string_view chunk, const Handler& on_event) {
  if (!m_started) {
    // A byte order mark at the very start is not part of the first line.
    constexpr std::string_view bom = "\xEF\xBB\xBF";
    while (!chunk.empty() && m_bom_bytes < bom.size() && chunk.front() == bom[m_bom_bytes]) {
      ++m_bom_bytes;
      chunk.remove_prefix(1);
    }
    if (chunk.empty() && m_bom_bytes < bom.size()) {
      return true;  // maybe the rest of a BOM comes next
    }
    if (m_bom_bytes < bom.size()) {
      m_line.append(bom.substr(0, m_bom_bytes));  // those bytes were text after all
    }
    m_started = true;
  }
  std::size_t start = 0;
  for (std::size_t i = 0; i < chunk.size() && !m_overflow; ++i) {
    char c = chunk[i];
    if (c == '\n' && m_after_cr) {
      m_after_cr = false;  // the LF of a CRLF whose CR ended the line already
      start = i + 1;
      continue;
    }
    m_after_cr = false;
    if (c == '\r' || c == '\n') {
      if (m_line.empty()) {
        process_line(chunk.substr(start, i - start), on_event);
      } else {
        m_line.append(chunk.substr(start, i - start));
        std::string line = std::move(m_line);
        m_line.clear();
        process_line(line, on_event);
      }
      m_after_cr = (c == '\r');
      start = i + 1;
    }
  }
  if (!m_overflow) {
    m_line.append(chunk.substr(start));
  }
  if (m_overflow || m_line.size() > k_max_line_bytes) {
    reset_partial();
    return false;
  }
  return true;
}

void Parser::reset_partial() {
  m_id_buffer = m_last_event_id;
  m_overflow = false;
  m_line.clear();
  m_data.clear();
  m_type.clear();
  m_after_cr = false;
  m_started = false;
  m_bom_bytes = 0;
}

void Parser::process_line(std::string_view line, const Handler& on_event) {
  if (line.size() > k_max_line_bytes) {
    m_overflow = true;
    return;
  }
  if (line.empty()) {
    // The id seen so far becomes the stream's last event id only at an event boundary.
    m_last_event_id = m_id_buffer;
    if (m_data.empty()) {
      m_type.clear();
      return;
    }
    m_data.pop_back();  // the LF after the last data line
    Event event{m_last_event_id, m_type.empty() ? "message" : std::move(m_type), std::move(m_data)};
    m_data.clear();
    m_type.clear();
    on_event(event);
    return;
  }
  if (line.front() == ':') {
    ++m_comments;
    return;
  }
  std::string_view field = line;
  std::string_view value;
  if (auto colon = line.find(':'); colon != std::string_view::npos) {
    field = line.substr(0, colon);
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') {
      value.remove_prefix(1);
    }
  }
  if (field == "data") {
    m_data.append(value).push_back('\n');
    m_overflow = m_data.size() > k_max_line_bytes;
  } else if (field == "event") {
    m_type = value;
  } else if (field == "id") {
    if (value.find('\0') == std::string_view::npos) {
      m_id_buffer = value;
    }
  } else if (field == "retry") {
    if (!value.empty() && value.size() < 10 &&
        std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      m_retry_ms = std::stol(std::string(value));
    }
  }
}

}  // namespace livechat::wire::sse
