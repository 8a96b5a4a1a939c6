#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "tests/support/hand_token.hpp"
#include "tests/support/process.hpp"
#include "wire/message.hpp"

namespace livechat::test {

// A directory of its own for one test, removed afterwards.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // Returns the path of a file in it.
  std::string file(const std::string& name) const { return (m_path / name).string(); }
  const std::filesystem::path& path() const { return m_path; }

 private:
  std::filesystem::path m_path;
};

// Starts `livechat serve` on free loopback ports, with extra options.
LivechatServer start_serve(std::vector<std::string> extra = {});

// Posts a message to the message service on a loopback port and returns its id (a 201 is
// required).
std::string post_message(int port, const std::string& content);

// Returns a draft "content <n>" by "tester" in `room`, for store tests.
wire::Draft numbered_draft(int n, const std::string& room = "general");

// Returns a draft of a change (an edit, delete or reaction) of message `message_id` by `user`,
// for store tests.
wire::Draft change_draft(wire::EventKind kind, const std::string& message_id,
                         const std::string& user, const std::string& content = "",
                         const std::string& emoji = "", bool removed = false);

// Returns the ids of messages, in order.
std::vector<std::string> ids_of(const std::vector<wire::Message>& messages);

// Returns a TCP socket connected to 127.0.0.1:port (the test fails if it cannot connect).
int connect_loopback(int port);

// Splits text into its complete lines.
std::vector<std::string> split_lines(const std::string& text);

}  // namespace livechat::test
