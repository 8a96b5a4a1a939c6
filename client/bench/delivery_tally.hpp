#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace livechat::client::bench {

// Sums of what the listeners of a run received.
struct DeliveryTotals {
  std::uint64_t expected = 0;      // published messages times listening listeners
  std::uint64_t received = 0;      // first copies of published messages
  std::uint64_t lost = 0;          // expected - received
  std::uint64_t duplicated = 0;    // copies after the first
  std::uint64_t out_of_order = 0;  // first copies that came after a message stored after them
  std::uint64_t unexpected = 0;    // sequence numbers that were never sent
};

// Keeps, per listener, a bitmap of the sequence numbers it received. record() may run on
// several threads at once as long as each listener is always recorded from the same thread.
class DeliveryTally {
 public:
  DeliveryTally(std::size_t listeners, std::size_t messages);

  // Records that `listener` received message `seq`; returns true for its first copy.
  bool record(std::size_t listener, std::uint64_t seq) { return record(listener, seq, seq); }

  // Records a message with a key that grows in the order the service stored the messages
  // (its id: with several publishers, sequence numbers may be stored in another order).
  bool record(std::size_t listener, std::uint64_t seq, std::uint64_t order);

  // Tells whether `listener` has received message `seq`.
  bool has(std::size_t listener, std::uint64_t seq) const;

  // Sums up the listeners marked in `listening` over the messages marked in `published`.
  DeliveryTotals totals(const std::vector<bool>& listening,
                        const std::vector<bool>& published) const;

 private:
  struct Listener {
    std::uint64_t next = 0;  // one past the highest order key seen
    std::uint64_t duplicated = 0;
    std::uint64_t out_of_order = 0;
    std::uint64_t unexpected = 0;
  };

  std::size_t m_messages;
  std::size_t m_words;
  std::vector<std::uint64_t> m_bits;
  std::vector<Listener> m_listeners;
};

// A bench message's payload: "bench <seq> <send time in steady_clock nanoseconds>".
struct BenchPayload {
  std::uint64_t seq = 0;
  std::int64_t sent_ns = 0;
};

// Makes the content of bench message `seq` sent at `sent_ns`.
std::string bench_content(std::uint64_t seq, std::int64_t sent_ns);

// Finds the bench payload in a notification's JSON, without a full parse when it can.
std::optional<BenchPayload> parse_bench_notification(std::string_view json);

// Finds the first bench payload anywhere in an event's data: a foreign server's raw body, or
// JSON that carries it in a string.
std::optional<BenchPayload> parse_bench_data(std::string_view data);

// Replaces every "{content}" in a publish body template with `content`.
std::string expand_publish_body(std::string_view body_template, std::string_view content);

// Tells the Content-Type of a publish body: JSON when it looks like an object or array.
std::string publish_content_type(std::string_view body);

}  // namespace livechat::client::bench
