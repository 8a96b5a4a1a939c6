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
  if (endpoint.scheme == "https") {
    client->enable_server_certificate_verification(true);
    if (!endpoint.ca_file.empty()) {
      client->set_ca_cert_path(endpoint.ca_file.c_str());
    }
  }
  return client;
}

std::string transport_code(httplib::Error error) {
  switch (error) {
    case httplib::Error::SSLServerVerification:
      return "untrusted_cert";
    case httplib::Error::SSLLoadingCerts:
      return "bad_cacert";
    case httplib::Error::SSLConnection:
      return "tls_failed";
    default:
      return "unreachable";
  }
}

bool is_transport_code(std::string_view code) {
  return code == "unreachable" || code == "untrusted_cert" || code == "bad_cacert" ||
         code == "tls_failed";
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
      return "TLS handshake failed (does the server speak HTTPS?)";
    case httplib::Error::SSLServerVerification:
      return "the server's certificate is not trusted";
    case httplib::Error::SSLLoadingCerts:
      return "cannot load the CA certificates";
    case httplib::Error::Canceled:
      return "canceled";
    default:
      return httplib::to_string(error);
  }
}

}  // namespace livechat::wire
