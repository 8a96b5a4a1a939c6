#include <algorithm>
#include <charconv>
#include <cstring>

#include "client/bench/delivery_tally.hpp"
#include "wire/message.hpp"

namespace livechat::client::bench {

DeliveryTally::DeliveryTally(std::size_t listeners, std::size_t messages)
    : m_messages(messages),
      m_words((messages + 63) / 64),
      m_bits(listeners * m_words, 0),
      m_listeners(listeners) {}

bool DeliveryTally::record(std::size_t listener, std::uint64_t seq, std::uint64_t order) {
  auto& l = m_listeners.at(listener);
  if (seq >= m_messages) {
    ++l.unexpected;
    return false;
  }
  auto& word = m_bits[listener * m_words + seq / 64];
  std::uint64_t bit = std::uint64_t{1} << (seq % 64);
  if ((word & bit) != 0) {
    ++l.duplicated;
    return false;
  }
  word |= bit;
  if (order + 1 < l.next) {
    ++l.out_of_order;
  }
  l.next = std::max(l.next, order + 1);
  return true;
}

bool DeliveryTally::has(std::size_t listener, std::uint64_t seq) const {
  if (listener >= m_listeners.size() || seq >= m_messages) {
    return false;
  }
  return (m_bits[listener * m_words + seq / 64] >> (seq % 64) & 1) != 0;
}

DeliveryTotals DeliveryTally::totals(const std::vector<bool>& listening,
                                     const std::vector<bool>& published) const {
  DeliveryTotals t;
  std::size_t sent = 0;
  for (std::size_t seq = 0; seq < m_messages && seq < published.size(); ++seq) {
    sent += published[seq] ? 1 : 0;
  }
  for (std::size_t i = 0; i < m_listeners.size(); ++i) {
    if (i >= listening.size() || !listening[i]) {
      continue;
    }
    t.expected += sent;
    for (std::size_t seq = 0; seq < m_messages && seq < published.size(); ++seq) {
      if (published[seq] && has(i, seq)) {
        ++t.received;
      }
    }
    t.duplicated += m_listeners[i].duplicated;
    t.out_of_order += m_listeners[i].out_of_order;
    t.unexpected += m_listeners[i].unexpected;
  }
  t.lost = t.expected - t.received;
  return t;
}

std::string bench_content(std::uint64_t seq, std::int64_t sent_ns) {
  return "bench " + std::to_string(seq) + " " + std::to_string(sent_ns);
}

std::optional<BenchPayload> parse_bench_notification(std::string_view json) {
  // The notification JSON as the service renders it: ..."content":"bench 12 345",...
  constexpr std::string_view k_key = "\"content\":\"bench ";
  std::string content;
  std::string_view text;
  // The quote that ends the content in the JSON; in content read out of it, a quote is text.
  bool quick = false;
  if (auto at = json.find(k_key); at != std::string_view::npos) {
    text = json.substr(at + k_key.size() - 6);
    quick = true;
  } else {
    auto message = wire::parse_message_json(json);
    if (!message) {
      return std::nullopt;
    }
    content = message->content;
    text = content;
  }
  if (text.substr(0, 6) != "bench ") {
    return std::nullopt;
  }
  text.remove_prefix(6);
  BenchPayload payload;
  const char* end = text.data() + text.size();
  auto [after_seq, e1] = std::from_chars(text.data(), end, payload.seq);
  if (e1 != std::errc{} || after_seq == end || *after_seq != ' ') {
    return std::nullopt;
  }
  auto [after_ns, e2] = std::from_chars(after_seq + 1, end, payload.sent_ns);
  // What follows is the end of the content, or padding after a space.
  if (e2 != std::errc{} || (after_ns != end && !(quick && *after_ns == '"') && *after_ns != ' ')) {
    return std::nullopt;
  }
  return payload;
}

std::optional<BenchPayload> parse_bench_data(std::string_view data) {
  constexpr std::string_view k_prefix = "bench ";
  for (auto at = data.find(k_prefix); at != std::string_view::npos;
       at = data.find(k_prefix, at + 1)) {
    const char* end = data.data() + data.size();
    BenchPayload payload;
    auto [after_seq, e1] = std::from_chars(data.data() + at + k_prefix.size(), end, payload.seq);
    if (e1 != std::errc{} || after_seq == end || *after_seq != ' ') {
      continue;
    }
    auto [after_ns, e2] = std::from_chars(after_seq + 1, end, payload.sent_ns);
    if (e2 == std::errc{} && (after_ns == end || *after_ns != '.')) {
      return payload;
    }
  }
  return std::nullopt;
}

std::string expand_publish_body(std::string_view body_template, std::string_view content) {
  constexpr std::string_view k_slot = "{content}";
  std::string out;
  for (auto at = body_template.find(k_slot); at != std::string_view::npos;
       at = body_template.find(k_slot)) {
    out.append(body_template.substr(0, at)).append(content);
    body_template.remove_prefix(at + k_slot.size());
  }
  return out.append(body_template);
}

std::string publish_content_type(std::string_view body) {
  auto first = body.find_first_not_of(" \t\r\n");
  bool json = first != std::string_view::npos && (body[first] == '{' || body[first] == '[');
  return json ? "application/json" : "text/plain";
}

}  // namespace livechat::client::bench
