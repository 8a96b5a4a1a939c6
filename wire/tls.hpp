#pragma once

#include <memory>
#include <string>

#include "wire/result.hpp"

typedef struct ssl_ctx_st SSL_CTX;

namespace livechat::wire {

// A server's TLS setup: its certificate chain and private key, loaded and checked once.
class TlsContext {
 public:
  // Loads a PEM certificate chain and its PEM private key; the error names the file at fault.
  static Result<std::shared_ptr<TlsContext>> load(const std::string& cert_file,
                                                  const std::string& key_file);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  SSL_CTX* get() const { return m_ctx; }

 private:
  explicit TlsContext(SSL_CTX* ctx) : m_ctx(ctx) {}
  SSL_CTX* m_ctx;
};

// Returns OpenSSL's reason for its last error (and clears its error queue).
std::string last_tls_error();

}  // namespace livechat::wire
