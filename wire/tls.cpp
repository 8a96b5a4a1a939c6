#include "wire/tls.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace livechat::wire {

std::string last_tls_error() {
  unsigned long code = ERR_get_error();
  std::string reason;
  // The earliest error is the cause; later ones say where it surfaced.
  if (code != 0) {
    const char* text = ERR_reason_error_string(code);
    reason = text != nullptr ? text : "error " + std::to_string(code);
  }
  ERR_clear_error();
  return reason.empty() ? "unknown TLS error" : reason;
}

Result<std::shared_ptr<TlsContext>> TlsContext::load(const std::string& cert_file,
                                                     const std::string& key_file) {
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) {
    return Error{"tls_failed", "cannot set up TLS: " + last_tls_error()};
  }
  std::shared_ptr<TlsContext> context(new TlsContext(ctx));
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(
      ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1) {
    return Error{"bad_tls_cert", "cannot load a PEM certificate chain from " + cert_file + " (" +
                                     last_tls_error() + ")"};
  }
  // Loading the key checks it against the certificate loaded before it.
  if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    unsigned long code = ERR_peek_error();
    if (ERR_GET_LIB(code) == ERR_LIB_X509 && ERR_GET_REASON(code) == X509_R_KEY_VALUES_MISMATCH) {
      ERR_clear_error();
      return Error{"bad_tls_key", "the private key in " + key_file +
                                      " does not match the certificate in " + cert_file};
    }
    return Error{"bad_tls_key",
                 "cannot load a PEM private key from " + key_file + " (" + last_tls_error() + ")"};
  }
  return context;
}

TlsContext::~TlsContext() { SSL_CTX_free(m_ctx); }

}  // namespace livechat::wire
