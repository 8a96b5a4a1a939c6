#include "server/hub/tls_transport.hpp"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <string>

namespace livechat::server::hub {

TlsTransport::TlsTransport(ssl_st* ssl, int fd) : m_ssl(ssl), m_fd(fd) {
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  // A write the socket cannot take whole returns what went out; the rest is offered again
  // later from the subscriber's pending bytes, at another address.
  SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // An idle stream holds no record buffers (about 34 KiB a session otherwise).
  SSL_set_mode(ssl, SSL_MODE_RELEASE_BUFFERS);
}

TlsTransport::~TlsTransport() {
  SSL_shutdown(m_ssl);  // close_notify, if the socket takes it now (it fails after a broken write)
  ERR_clear_error();
  SSL_free(m_ssl);
  ::shutdown(m_fd, SHUT_RDWR);
  ::close(m_fd);
}

ssize_t TlsTransport::write(const iovec* iov, std::size_t count, std::size_t total) {
  // SSL_write takes one buffer. Each writer thread keeps one to gather into, so a delivery
  // allocates nothing once it has grown.
  thread_local std::string gathered;
  const char* data = static_cast<const char*>(iov[0].iov_base);
  if (count > 1) {
    gathered.clear();
    for (std::size_t i = 0; i < count; ++i) {
      gathered.append(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
    }
    data = gathered.data();
  }
  std::size_t done = 0;
  while (done < total) {
    int n = SSL_write(m_ssl, data + done,
                      static_cast<int>(std::min<std::size_t>(total - done, INT_MAX)));
    if (n > 0) {
      done += static_cast<std::size_t>(n);
      continue;
    }
    int error = SSL_get_error(m_ssl, n);
    if (error == SSL_ERROR_WANT_WRITE || error == SSL_ERROR_WANT_READ) {
      break;  // the socket is full: the same bytes go again once it drains
    }
    ERR_clear_error();
    return -1;
  }
  return static_cast<ssize_t>(done);
}

}  // namespace livechat::server::hub
