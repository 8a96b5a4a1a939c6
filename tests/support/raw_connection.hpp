#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace livechat::test {

// One answer read off a raw connection.
struct RawResponse {
  int status = 0;
  std::multimap<std::string, std::string> headers;  // names in lower case
  std::string body;

  // Returns a header's first value, or "".
  std::string header(const std::string& name) const;
};

// Splits the bytes a server sent into the answers they hold (interim 1xx ones included);
// `rest` gets what does not parse as a whole answer.
std::vector<RawResponse> split_responses(const std::string& bytes, std::string* rest = nullptr);

// A plain TCP connection to 127.0.0.1 that writes exactly what it is told, when it is told.
class RawConnection {
 public:
  explicit RawConnection(int port);
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  // Sends bytes; false once the server has closed the connection.
  bool send(const std::string& text);

  // Reads what arrived within `wait`; true if anything did (or the connection ended).
  bool read_some(std::chrono::milliseconds wait);

  // Reads until the server closes the connection (10 s at most).
  void read_to_end();

  // Reads until `count` whole answers arrived or the connection ended (10 s at most).
  void read_responses(std::size_t count);

  // The status of the first answer, 0 before one came.
  int status() const;
  // Tells whether the server closed the connection.
  bool ended() const { return m_ended; }
  const std::string& received() const { return m_received; }
  std::vector<RawResponse> responses() const { return split_responses(m_received); }

 private:
  int m_fd = -1;
  std::string m_received;
  bool m_ended = false;
};

}  // namespace livechat::test
