#include <catch2/catch.hpp>

#include "server/http/server.hpp"
#include "server/service/message_service.hpp"

using livechat::server::http::HttpServerOptions;
using livechat::server::service::MessageServiceOptions;

TEST_CASE("server::service::MessageServiceOptions") {
  MessageServiceOptions options;

  SECTION("a burst of 0 is twice the rate") {
    options.rate_limit = 3;
    CHECK(options.burst() == 6);
    options.rate_burst = 1.5;
    CHECK(options.burst() == 1.5);
  }

  SECTION("the body limit leaves room for the largest content escaped as JSON") {
    options.limits.max_content_bytes = 1024;
    CHECK(options.body_limit() == HttpServerOptions{}.max_body_bytes);
    options.limits.max_content_bytes = 4 * 1024 * 1024;
    CHECK(options.body_limit() == 8 * 1024 * 1024 + 64 * 1024);
    options.max_body_bytes = 300;
    CHECK(options.body_limit() == 300);
  }
}
