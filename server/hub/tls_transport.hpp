#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>

#include "server/hub/hub.hpp"

struct ssl_st;

namespace livechat::server::hub {

// A stream's TLS session and its socket, written by the hub's writers without blocking. It
// owns both: when destroyed it sends close_notify if the socket takes it, frees the session
// and closes the socket.
class TlsTransport final : public Transport {
 public:
  TlsTransport(ssl_st* ssl, int fd);
  ~TlsTransport() override;
  TlsTransport(const TlsTransport&) = delete;
  TlsTransport& operator=(const TlsTransport&) = delete;

  int fd() const override { return m_fd; }
  bool drains_input() const override { return false; }
  ssize_t write(const iovec* iov, std::size_t count, std::size_t total) override;

 private:
  ssl_st* m_ssl;
  int m_fd;
};

}  // namespace livechat::server::hub
