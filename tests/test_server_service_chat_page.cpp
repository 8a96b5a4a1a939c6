#include <algorithm>
#include <catch2/catch.hpp>

#include "server/service/chat_page.hpp"
#include "www/page.hpp"

using namespace livechat;

namespace {

// Returns the sources of one directive of a policy ("" when it is not there).
std::string directive(const std::string& policy, const std::string& name) {
  auto at = policy.find(name + " ");
  if (at == std::string::npos || (at > 0 && policy.substr(at - 2, 2) != "; ")) {
    return "";
  }
  auto end = policy.find(';', at);
  return policy.substr(at + name.size() + 1,
                       end == std::string::npos ? end : end - at - name.size() - 1);
}

}  // namespace

TEST_CASE("server::service::ChatPage") {
  SECTION(
      "the page names the notification service; the policy allows only it and the page's own "
      "origin") {
    server::service::ChatPage page(www::index_html(), "http://chat.example.org:8081");
    CHECK(
        page.html().find(
            R"(window.LIVECHAT_SERVER_CONFIG = {"notify_url":"http://chat.example.org:8081"};)") !=
        std::string::npos);
    auto policy = page.content_security_policy("chat.example.org:8080");
    CHECK(directive(policy, "default-src") == "'none'");
    CHECK(directive(policy, "connect-src") ==
          "'self' http://chat.example.org:8081 https://chat.example.org:8081");
    CHECK(directive(policy, "frame-ancestors") == "'none'");
    CHECK(directive(policy, "base-uri") == "'none'");
    CHECK(directive(policy, "form-action") == "'none'");
    CHECK(directive(policy, "object-src") == "'none'");
    // Two inline scripts (the configuration and the page's code) and one style, each by its hash.
    auto scripts = directive(policy, "script-src");
    CHECK(scripts.find("unsafe") == std::string::npos);
    CHECK(std::count(scripts.begin(), scripts.end(), ' ') == 1);
    CHECK(scripts.starts_with("'sha256-"));
    CHECK(directive(policy, "style-src").starts_with("'sha256-"));
  }

  SECTION("an https notification service is never allowed over plain http") {
    server::service::ChatPage page(www::index_html(), "https://chat.example.org/");
    CHECK(directive(page.content_security_policy("chat.example.org"), "connect-src") ==
          "'self' https://chat.example.org:443");
  }

  SECTION("the script hash follows the configuration it holds") {
    auto a = server::service::ChatPage(www::index_html(), "http://a.example:8081")
                 .content_security_policy("a.example");
    auto b = server::service::ChatPage(www::index_html(), "http://b.example:8081")
                 .content_security_policy("b.example");
    CHECK(directive(a, "script-src") != directive(b, "script-src"));
    CHECK(directive(a, "style-src") == directive(b, "style-src"));
  }

  SECTION("a loopback notification URL is reached on the host the page was asked for") {
    server::service::ChatPage page(www::index_html(), "http://localhost:8081");
    CHECK(directive(page.content_security_policy("192.168.1.5:8080"), "connect-src") ==
          "'self' http://192.168.1.5:8081 https://192.168.1.5:8081");
    CHECK(directive(page.content_security_policy("[fe80::1]:8080"), "connect-src") ==
          "'self' http://[fe80::1]:8081 https://[fe80::1]:8081");
    CHECK(directive(page.content_security_policy("Chat.Example.org:8080"), "connect-src") ==
          "'self' http://chat.example.org:8081 https://chat.example.org:8081");
    CHECK(directive(page.content_security_policy("LOCALHOST:8080"), "connect-src") ==
          "'self' http://localhost:8081 https://localhost:8081");
    CHECK(directive(server::service::ChatPage(www::index_html(), "http://LocalHost:8081")
                        .content_security_policy("lan:8080"),
                    "connect-src") == "'self' http://lan:8081 https://lan:8081");
    CHECK(directive(page.content_security_policy("127.0.0.1:8080"), "connect-src") ==
          "'self' http://localhost:8081 https://localhost:8081");
    // A Host header that is no host name changes nothing, and cannot add to the policy.
    for (const auto* host : {"evil; script-src *", "a b:8080", "", "x/y"}) {
      CAPTURE(host);
      CHECK(directive(page.content_security_policy(host), "connect-src") ==
            "'self' http://localhost:8081 https://localhost:8081");
    }
  }

  SECTION("a name that only starts like a loopback address is no loopback notification URL") {
    server::service::ChatPage page(www::index_html(), "http://127.evil.example:8081");
    CHECK(directive(page.content_security_policy("192.168.1.5:8080"), "connect-src") ==
          "'self' http://127.evil.example:8081 https://127.evil.example:8081");
  }

  SECTION("no notification URL can close the configuration's <script> element") {
    server::service::ChatPage page(www::index_html(),
                                   "http://x.example/</script><script>alert(1)//");
    CHECK(page.html().find("</script><script>alert(1)") == std::string::npos);
    CHECK(page.html().find(R"(\u003c/script>\u003cscript>alert(1)//)") != std::string::npos);
  }
}
