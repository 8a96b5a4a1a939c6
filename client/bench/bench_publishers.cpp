#include "client/bench/bench_publishers.hpp"

#include <httplib.h>

#include <algorithm>
#include <memory>
#include <optional>

#include "client/bench/delivery_tally.hpp"
#include "client/publisher.hpp"
#include "wire/http_client.hpp"

namespace livechat::client::bench {

namespace {

using namespace std::chrono_literals;

// Posts bench payloads to a server that is not livechat over one kept-alive connection.
class ForeignPublisher {
 public:
  ForeignPublisher(const ForeignUrl& url, std::string body_template)
      : m_url(url),
        m_template(std::move(body_template)),
        m_client(wire::make_client(url.endpoint)) {}

  // Posts one payload; any 2xx is a success.
  wire::Result<int> send(const std::string& content) {
    auto body = expand_publish_body(m_template, content);
    auto result = m_client->Post(m_url.target, body, publish_content_type(body));
    if (!result) {
      return wire::Error{"unreachable", "cannot reach " + m_url.endpoint.origin() + m_url.target +
                                            " (" + wire::describe(result.error()) + ")"};
    }
    if (result->status < 200 || result->status > 299) {
      return wire::Error{"http_" + std::to_string(result->status),
                         "the server rejected the message: " + result->body.substr(0, 200) +
                             " (HTTP " + std::to_string(result->status) + ")"};
    }
    return result->status;
  }

 private:
  const ForeignUrl& m_url;
  std::string m_template;
  std::unique_ptr<httplib::Client> m_client;
};

}  // namespace

void BenchPublishers::publish(std::size_t index) {
  Publisher publisher(m_config.message_endpoint);
  std::optional<ForeignPublisher> foreign;
  if (m_config.publish) {
    foreign.emplace(*m_config.publish, m_config.publish_body);
  }
  for (;;) {
    std::size_t seq = m_next.fetch_add(1);
    if (seq >= m_config.messages || m_stop.load() || m_unreachable.load()) {
      break;
    }
    if (m_config.rate > 0) {
      auto due =
          m_start + std::chrono::duration_cast<Clock::duration>(
                        std::chrono::duration<double>(static_cast<double>(seq) / m_config.rate));
      // In slices, so that a stop is seen within one.
      for (auto now = Clock::now(); now < due && !m_stop.load(); now = Clock::now()) {
        std::this_thread::sleep_for(std::min<Clock::duration>(due - now, 50ms));
      }
    }
    auto sent = Clock::now();
    auto content = bench_content(seq, nanos(sent));
    if (m_config.payload_bytes > content.size() + 1) {
      content += ' ';
      content.append(m_config.payload_bytes - content.size(), 'x');
    }
    std::optional<wire::Error> error;
    if (foreign) {
      if (auto result = foreign->send(content); !result) {
        error = result.error();
      }
    } else if (auto result = publisher.send(content, "bench", m_config.room); !result) {
      error = result.error();
    }
    auto done = Clock::now();
    m_rtt[index].record(static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(done - sent).count()));
    std::lock_guard lock(m_mutex);
    m_finished = std::max(m_finished, done);
    if (!error) {
      m_published[seq] = 1;
      ++m_ok;
      continue;
    }
    ++m_errors;
    if (m_first_error.message.empty()) {
      m_first_error = *error;
    }
    // Nothing got through and the service is not there: later messages would not either.
    if (wire::is_transport_code(error->code) && m_ok.load() == 0) {
      m_unreachable = true;
    }
  }
}

}  // namespace livechat::client::bench
