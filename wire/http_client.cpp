#include "wire/http_client.hpp"

#include <httplib.h>

namespace livechat::wire {

std::unique_ptr<httplib::Client> make_client(const Endpoint& endpoint,
                                             const ClientTimeouts& timeouts) {
  auto client = std::make_unique<httplib::Client>(endpoint.origin());
  client->set_keep_alive(true);
  client->set_tcp_nodelay(true);
  client->set_connection_timeout(timeouts.connect);
  client->set_read_timeout(timeouts.read);
  client->set_write_timeout(timeouts.write);
  return client;
}

std::string describe(httplib::Error error) {
  switch (error) {
    case httplib::Error::Connection:
      return "connection refused";
    case httplib::Error::ConnectionTimeout:
      return "connection timed out";
    case httplib::Error::Read:
      return "connection closed or timed out while reading";
    case httplib::Error::Write:
      return "connection closed while writing";
    case httplib::Error::SSLConnection:
    case httplib::Error::SSLServerVerification:
    case httplib::Error::SSLLoadingCerts:
      return "TLS failed";
    case httplib::Error::Canceled:
      return "canceled";
    default:
      return httplib::to_string(error);
  }
}

}  // namespace livechat::wire
