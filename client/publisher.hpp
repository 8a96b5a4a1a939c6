#pragma once

#include <memory>
#include <string>

#include "wire/message.hpp"
#include "wire/result.hpp"
#include "wire/url.hpp"

namespace httplib {
class Client;
}

namespace livechat::client {

// Posts messages to a message service over one kept-alive connection.
class Publisher {
 public:
  // Posts with a user token (Authorization: Bearer) when `token` is not empty.
  explicit Publisher(wire::Endpoint endpoint, const std::string& token = {});
  ~Publisher();
  Publisher(const Publisher&) = delete;
  Publisher& operator=(const Publisher&) = delete;

  // Posts one message; returns the stored message, or an error a person can act on.
  wire::Result<wire::Message> send(const std::string& content, const std::string& user,
                                   const std::string& room);

 private:
  wire::Endpoint m_endpoint;
  std::unique_ptr<httplib::Client> m_client;
};

}  // namespace livechat::client
