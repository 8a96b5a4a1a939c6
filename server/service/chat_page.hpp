#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "wire/url.hpp"

namespace livechat::server::service {

// The chat page served at /: the page (www/index.html, handed in by cli) pointed at this
// deployment, and the Content-Security-Policy that lets it run its own inline script and style and
// talk only to the message service it came from and the notification service this deployment names.
class ChatPage {
 public:
  // Fills the page's configuration (window.LIVECHAT_SERVER_CONFIG) into `html` (the page,
  // www/index.html) and hashes its inline <script> and <style> blocks.
  ChatPage(std::string_view html, const std::string& public_notify_url);

  // Returns the page's HTML.
  const std::string& html() const { return m_html; }

  // Returns the Content-Security-Policy for the page asked for with this Host header: a loopback
  // notification URL is reached on the page's own host, as the page itself does for a LAN user.
  std::string content_security_policy(std::string_view host_header) const;

 private:
  std::string m_html;
  std::string m_script_sources;            // 'sha256-...' of each inline script
  std::string m_style_sources;             // 'sha256-...' of each inline style
  std::optional<wire::Endpoint> m_notify;  // none: the notify URL is not one a browser can use
};

}  // namespace livechat::server::service
