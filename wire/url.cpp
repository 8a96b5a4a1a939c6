#include "wire/url.hpp"

#include <cctype>
#include <charconv>

namespace livechat::wire {

std::string host_port(std::string_view host, int port) {
  bool ipv6 = host.find(':') != std::string_view::npos;
  std::string out = ipv6 ? "[" + std::string(host) + "]" : std::string(host);
  return out + ":" + std::to_string(port);
}

std::string Endpoint::origin() const { return scheme + "://" + host_port(host, port); }

std::string Endpoint::url(std::string_view path) const {
  return origin() + base_path + std::string(path);
}

Result<Endpoint> parse_endpoint(std::string_view url) {
  auto fail = [&](std::string_view why) {
    std::string message = "'";
    message.append(url).append("' is not a usable URL: ").append(why);
    return Error{"bad_url", std::move(message)};
  };
  Endpoint endpoint;
  std::string_view rest = url;
  if (auto sep = rest.find("://"); sep != std::string_view::npos) {
    for (char c : rest.substr(0, sep)) {
      endpoint.scheme.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
    rest.remove_prefix(sep + 3);
  } else {
    endpoint.scheme = "http";
  }
  if (endpoint.scheme != "http" && endpoint.scheme != "https") {
    return fail("the scheme must be http or https");
  }
  auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) {
      return fail("unclosed '[' in the host");
    }
    endpoint.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        return fail("unexpected text after the host");
      }
      port_text = after.substr(1);
    }
  } else {
    auto colon = authority.rfind(':');
    endpoint.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
    }
    if (endpoint.host.find(':') != std::string::npos) {
      return fail("an IPv6 host must be in brackets, as in http://[::1]:8080");
    }
  }
  if (endpoint.host.empty()) {
    return fail("the host is missing");
  }
  if (endpoint.host.find_first_of("[]") != std::string::npos) {
    return fail("unexpected '[' or ']' in the host");
  }
  if (authority.back() == ':') {
    return fail("the port is missing after ':'");
  }
  if (port_text.empty()) {
    endpoint.port = endpoint.scheme == "https" ? 443 : 80;
  } else {
    auto [ptr, ec] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), endpoint.port);
    if (ec != std::errc{} || ptr != port_text.data() + port_text.size() || endpoint.port < 1 ||
        endpoint.port > 65535) {
      return fail("the port must be a number from 1 to 65535");
    }
  }
  if (auto query = path.find_first_of("?#"); query != std::string_view::npos) {
    path = path.substr(0, query);
  }
  while (!path.empty() && path.back() == '/') {
    path.remove_suffix(1);
  }
  endpoint.base_path = std::string(path);
  return endpoint;
}

std::string url_encode(std::string_view text) {
  static constexpr char k_hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(k_hex[c >> 4]);
      out.push_back(k_hex[c & 15]);
    }
  }
  return out;
}

}  // namespace livechat::wire

namespace livechat::wire {

std::string RedisAddress::text() const {
  return "redis://" + host_port(host, port) + "/" + std::to_string(db);
}

Result<RedisAddress> parse_redis_url(std::string_view url) {
  auto fail = [&](std::string_view why) {
    std::string message = "'";
    message.append(url).append("' is not a usable Redis URL: ").append(why);
    return Error{"bad_url", std::move(message)};
  };
  std::string_view rest = url;
  if (auto sep = rest.find("://"); sep != std::string_view::npos) {
    if (rest.substr(0, sep) != "redis") {
      return fail("the scheme must be redis:// (TLS to Redis is not supported)");
    }
    rest.remove_prefix(sep + 3);
  }
  RedisAddress address;
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view credentials = rest.substr(0, at);
    // redis://:password@host, redis://user:password@host, or redis://password@host.
    auto colon = credentials.find(':');
    if (colon == std::string_view::npos) {
      address.password = std::string(credentials);
    } else {
      address.user = std::string(credentials.substr(0, colon));
      address.password = std::string(credentials.substr(colon + 1));
    }
    rest.remove_prefix(at + 1);
  }
  auto slash = rest.find('/');
  std::string_view db_text = slash == std::string_view::npos ? "" : rest.substr(slash + 1);
  // The host and port read like an HTTP URL's; only the default port differs.
  std::string_view authority = rest.substr(0, slash);
  auto endpoint = parse_endpoint("http://" + std::string(authority));
  if (!endpoint) {
    const auto& why = endpoint.error().message;
    return fail(why.substr(why.find(": ") + 2));
  }
  address.host = endpoint->host;
  auto close = authority.rfind(']');
  bool has_port =
      authority.find(':', close == std::string_view::npos ? 0 : close) != std::string_view::npos;
  if (has_port) {
    address.port = endpoint->port;
  }
  if (!db_text.empty()) {
    auto [ptr, ec] = std::from_chars(db_text.data(), db_text.data() + db_text.size(), address.db);
    if (ec != std::errc{} || ptr != db_text.data() + db_text.size() || address.db < 0 ||
        address.db > 1'000'000) {
      return fail("the database after '/' must be a number (0 to 15 on a default Redis)");
    }
  }
  return address;
}

}  // namespace livechat::wire
