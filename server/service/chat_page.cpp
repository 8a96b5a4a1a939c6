#include "server/service/chat_page.hpp"

#include <openssl/evp.h>

#include <array>
#include <cctype>
#include <nlohmann/json.hpp>
#include <utility>

#include "wire/auth.hpp"

namespace livechat::server::service {
namespace {

constexpr std::string_view k_config_marker = "/*LIVECHAT_SERVER_CONFIG*/";

// Returns the CSP source that allows an inline block with exactly this text: 'sha256-<base64>'.
std::string hash_source(std::string_view text) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  EVP_Digest(text.data(), text.size(), digest.data(), &size, EVP_sha256(), nullptr);
  std::array<unsigned char, 4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1> base64{};
  int length = EVP_EncodeBlock(base64.data(), digest.data(), static_cast<int>(size));
  return "'sha256-" + std::string(reinterpret_cast<const char*>(base64.data()), length) + "'";
}

// Returns the hash sources of every <tag>...</tag> block in html, space separated.
std::string block_sources(std::string_view html, std::string_view tag) {
  std::string open = "<" + std::string(tag);
  std::string close = "</" + std::string(tag) + ">";
  std::string sources;
  for (auto at = html.find(open); at != std::string_view::npos; at = html.find(open, at)) {
    auto start = html.find('>', at);
    auto end = start == std::string_view::npos ? start : html.find(close, start);
    if (end == std::string_view::npos) {
      break;
    }
    if (!sources.empty()) {
      sources += ' ';
    }
    sources += hash_source(html.substr(start + 1, end - start - 1));
    at = end + close.size();
  }
  return sources.empty() ? "'none'" : sources;
}

// Tells whether a host names this machine only (0.0.0.0 too: a service listening on every
// address), so that a browser reaches it on the host it asked the page from instead.
bool is_loopback(std::string_view host) {
  return wire::is_loopback_host(host) || host == "0.0.0.0";
}

// Returns the host name of a Host header, in lower case, or nothing when it is not a plain name or
// address.
std::optional<std::string> host_name(std::string_view host_header) {
  auto endpoint = wire::parse_endpoint("http://" + std::string(host_header));
  if (!endpoint || !endpoint->base_path.empty()) {
    return std::nullopt;
  }
  std::string host;
  for (char c : endpoint->host) {
    bool name = std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '-';
    if (!name && c != ':') {
      return std::nullopt;
    }
    host += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return host;
}

}  // namespace

ChatPage::ChatPage(std::string_view html, const std::string& public_notify_url) : m_html(html) {
  // "<" never reaches the script as such, so no URL can close the <script> element early.
  std::string config = nlohmann::json{{"notify_url", public_notify_url}}.dump();
  std::string escaped;
  for (char c : config) {
    escaped += c == '<' ? std::string("\\u003c") : std::string(1, c);
  }
  if (auto at = m_html.find(k_config_marker); at != std::string::npos) {
    m_html.replace(at, k_config_marker.size(), "window.LIVECHAT_SERVER_CONFIG = " + escaped + ";");
  }
  m_script_sources = block_sources(m_html, "script");
  m_style_sources = block_sources(m_html, "style");
  if (auto notify = wire::parse_endpoint(public_notify_url)) {
    for (auto& c : notify->host) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));  // as browsers see it
    }
    m_notify = *notify;
  }
}

std::string ChatPage::content_security_policy(std::string_view host_header) const {
  std::string connect = "'self'";
  if (m_notify) {
    wire::Endpoint notify = *m_notify;
    if (is_loopback(notify.host)) {
      if (auto host = host_name(host_header); host && !is_loopback(*host)) {
        notify.host = *host;
      }
    }
    connect += " " + notify.origin();
    if (notify.scheme == "http") {
      notify.scheme = "https";  // the same service behind TLS; never the other way round
      connect += " " + notify.origin();
    }
  }
  return "default-src 'none'; script-src " + m_script_sources + "; style-src " + m_style_sources +
         "; connect-src " + connect +
         "; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; "
         "object-src 'none'";
}

}  // namespace livechat::server::service
