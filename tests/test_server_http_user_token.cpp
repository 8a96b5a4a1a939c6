#include <httplib.h>
#include <catch2/catch.hpp>

#include <chrono>

#include "server/http/server.hpp"
#include "server/http/user_token.hpp"
#include "wire/token.hpp"

using namespace livechat;

TEST_CASE("server::http::check_user_token") {
  const std::string secret = "correct horse battery staple";
  const std::string token = *wire::mint_token(secret, "ann", std::chrono::hours(1));

  SECTION("without a secret every request passes, as nobody in particular") {
    httplib::Request req;
    auto claims = server::http::check_user_token(req, "");
    REQUIRE(claims);
    CHECK(claims->user.empty());
  }

  SECTION("a Bearer header or ?token= names the user") {
    httplib::Request bearer;
    bearer.set_header("Authorization", "Bearer " + token);
    auto claims = server::http::check_user_token(bearer, secret);
    REQUIRE(claims);
    CHECK(claims->user == "ann");

    httplib::Request query;
    query.params.emplace("token", token);
    REQUIRE(server::http::check_user_token(query, secret));
    CHECK(server::http::check_user_token(query, secret)->user == "ann");
  }

  SECTION("a missing or wrong token is unauthorized, and its answer asks for a Bearer token") {
    httplib::Request none;
    auto missing = server::http::check_user_token(none, secret);
    REQUIRE_FALSE(missing);
    CHECK(missing.error().kind == wire::ApiErrorKind::unauthorized);

    httplib::Request other;
    other.set_header("Authorization", "Bearer " + token);
    auto wrong = server::http::check_user_token(other, "another secret");
    REQUIRE_FALSE(wrong);
    httplib::Response res;
    server::http::send_error(res, wrong.error());
    CHECK(res.status == 401);
    CHECK(res.get_header_value("WWW-Authenticate") == "Bearer");
  }

  SECTION("only a 401 asks for a token") {
    httplib::Response res;
    server::http::send_error(res, {wire::ApiErrorKind::forbidden, "not yours"});
    CHECK(res.status == 403);
    CHECK_FALSE(res.has_header("WWW-Authenticate"));
  }
}
