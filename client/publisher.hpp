#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "wire/message.hpp"
#include "wire/result.hpp"
#include "wire/url.hpp"

namespace httplib {
class Client;
}

namespace livechat::client {

// How a publisher retries a request whose answer it did not get (the connection broke after
// the request was sent) or that the service could not take now (503).
struct RetryPolicy {
  // Three tries in about a second: a blip or a restart goes unnoticed, a service that is down
  // is reported soon.
  unsigned attempts = 3;
  std::chrono::milliseconds initial{200};
  std::chrono::milliseconds max{1000};
};

// Posts messages and changes of them to a message service over one kept-alive connection.
class Publisher {
 public:
  // Posts with a user token (Authorization: Bearer) when `token` is not empty.
  explicit Publisher(wire::Endpoint endpoint, const std::string& token = {},
                     RetryPolicy retry = {});
  ~Publisher();
  Publisher(const Publisher&) = delete;
  Publisher& operator=(const Publisher&) = delete;

  // Posts one message with a fresh Idempotency-Key, which its retries reuse, so that it is
  // stored once however often it is sent; returns the stored message, or an error a person can
  // act on.
  wire::Result<wire::Message> send(const std::string& content, const std::string& user,
                                   const std::string& room);

  // Edits a message (PATCH /messages/{id}); returns it in its new state.
  wire::Result<wire::Message> edit(const std::string& id, const std::string& content,
                                   const std::string& user);

  // Deletes a message (DELETE /messages/{id}); returns what the service answered (its id).
  wire::Result<wire::Message> remove(const std::string& id, const std::string& user);

  // Adds (or with `add` false, removes) the caller's reaction to a message; returns the message
  // in its new state.
  wire::Result<wire::Message> react(const std::string& id, const std::string& emoji,
                                    const std::string& user, bool add);

 private:
  // Sends a request, retried as the policy says, and reads a message from its `expected`
  // answer.
  wire::Result<wire::Message> request(const std::string& method, const std::string& path,
                                      const std::string& body, const std::string& key, int expected,
                                      const std::string& what);

  wire::Endpoint m_endpoint;
  RetryPolicy m_retry;
  std::unique_ptr<httplib::Client> m_client;
};

// Returns a fresh Idempotency-Key: 32 random hex digits.
std::string new_idempotency_key();

}  // namespace livechat::client
