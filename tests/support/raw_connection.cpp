#include "tests/support/raw_connection.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "tests/support/helpers.hpp"

namespace livechat::test {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// Decodes a chunked body starting at `at`; npos if it is not whole.
std::size_t read_chunked(const std::string& bytes, std::size_t at, std::string& body) {
  for (;;) {
    auto line_end = bytes.find("\r\n", at);
    if (line_end == std::string::npos) {
      return std::string::npos;
    }
    std::size_t size = std::strtoul(bytes.substr(at, line_end - at).c_str(), nullptr, 16);
    at = line_end + 2;
    if (size == 0) {
      auto end = bytes.find("\r\n", at);  // no trailers from livechat
      return end == std::string::npos ? end : end + 2;
    }
    if (bytes.size() < at + size + 2) {
      return std::string::npos;
    }
    body += bytes.substr(at, size);
    at += size + 2;
  }
}

}  // namespace

std::string RawResponse::header(const std::string& name) const {
  auto it = headers.find(lower(name));
  return it == headers.end() ? "" : it->second;
}

std::vector<RawResponse> split_responses(const std::string& bytes, std::string* rest) {
  std::vector<RawResponse> responses;
  std::size_t at = 0;
  while (at < bytes.size()) {
    auto head_end = bytes.find("\r\n\r\n", at);
    if (head_end == std::string::npos || bytes.compare(at, 5, "HTTP/") != 0) {
      break;
    }
    RawResponse r;
    auto line_end = bytes.find("\r\n", at);
    r.status = std::atoi(bytes.substr(at + 9, 3).c_str());
    for (auto pos = line_end + 2; pos < head_end;) {
      auto end = bytes.find("\r\n", pos);
      auto line = bytes.substr(pos, end - pos);
      auto colon = line.find(':');
      if (colon != std::string::npos) {
        auto value = line.substr(colon + 1);
        value.erase(0, value.find_first_not_of(' '));
        r.headers.emplace(lower(line.substr(0, colon)), value);
      }
      pos = end + 2;
    }
    std::size_t next = head_end + 4;
    if (lower(r.header("Transfer-Encoding")) == "chunked") {
      next = read_chunked(bytes, next, r.body);
    } else if (auto length = r.header("Content-Length"); !length.empty()) {
      std::size_t n = std::stoul(length);
      next = bytes.size() >= next + n ? next + n : std::string::npos;
      if (next != std::string::npos) {
        r.body = bytes.substr(head_end + 4, n);
      }
    }
    if (next == std::string::npos) {
      break;
    }
    responses.push_back(std::move(r));
    at = next;
  }
  if (rest != nullptr) {
    *rest = bytes.substr(at);
  }
  return responses;
}

RawConnection::RawConnection(int port) { m_fd = connect_loopback(port); }

RawConnection::~RawConnection() { ::close(m_fd); }

bool RawConnection::send(const std::string& text) {
  return ::send(m_fd, text.data(), text.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(text.size());
}

bool RawConnection::read_some(std::chrono::milliseconds wait) {
  pollfd p{m_fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0) {
    return false;
  }
  char buffer[4096];
  ssize_t n = ::recv(m_fd, buffer, sizeof buffer, 0);
  if (n <= 0) {
    m_ended = true;
    return true;
  }
  m_received.append(buffer, static_cast<std::size_t>(n));
  return true;
}

void RawConnection::read_to_end() {
  for (int i = 0; i < 100 && !m_ended; ++i) {
    read_some(std::chrono::milliseconds(100));
  }
}

void RawConnection::read_responses(std::size_t count) {
  for (int i = 0; i < 100 && !m_ended && responses().size() < count; ++i) {
    read_some(std::chrono::milliseconds(100));
  }
}

int RawConnection::status() const {
  auto all = responses();
  return all.empty() ? 0 : all.front().status;
}

}  // namespace livechat::test
