#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>

#include "server/hub/hub.hpp"

struct ssl_st;

namespace livechat::server::hub {

// A stream's TLS session, written by the hub's writers without blocking. For as long as it
// lives the socket is non-blocking and only the hub writes to the session; the connection's
// own thread must leave it alone until the subscription has ended.
class TlsTransport final : public Transport {
 public:
  TlsTransport(ssl_st* ssl, int fd);
  ~TlsTransport() override;  // the socket blocks again
  TlsTransport(const TlsTransport&) = delete;
  TlsTransport& operator=(const TlsTransport&) = delete;

  ssize_t write(const iovec* iov, std::size_t count, std::size_t total) override;

 private:
  ssl_st* m_ssl;
  int m_fd;
  int m_flags;
};

}  // namespace livechat::server::hub
