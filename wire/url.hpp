#pragma once

#include <string>
#include <string_view>

#include "wire/result.hpp"

namespace livechat::wire {

// Returns "host:port", with an IPv6 host in brackets ("[::1]:8080"), as URLs and Host headers
// write it.
std::string host_port(std::string_view host, int port);

// Where a service lives: scheme, host and port, plus a path prefix (without a trailing slash).
struct Endpoint {
  std::string scheme;  // "http" or "https"
  std::string host;
  int port = 0;
  std::string base_path;
  // With https: the PEM file of the CAs to trust (empty: the system's).
  std::string ca_file;

  // Returns "scheme://host:port" (what an HTTP client is made from).
  std::string origin() const;

  // Returns origin() + base_path + path.
  std::string url(std::string_view path = "") const;
};

// Parses "http://host:port/prefix" (scheme and port optional; IPv6 hosts in brackets).
Result<Endpoint> parse_endpoint(std::string_view url);

// Where a Redis server lives: redis://[[user]:password@]host[:port][/db].
struct RedisAddress {
  std::string host;
  int port = 6379;
  int db = 0;
  std::string user;  // Redis 6 ACL user; empty: the default user
  std::string password;

  // Returns "redis://host:port/db" (without the password, so it can be logged).
  std::string text() const;
};

// Parses "redis://[[user]:password@]host[:port][/db]" (the scheme may be left out).
Result<RedisAddress> parse_redis_url(std::string_view url);

// Percent-encodes a query parameter value.
std::string url_encode(std::string_view text);

}  // namespace livechat::wire
