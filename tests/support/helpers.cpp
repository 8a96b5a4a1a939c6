#include "tests/support/helpers.hpp"

#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>

#include <httplib.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

namespace livechat::test {

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "livechat-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("cannot make a temporary directory");
  }
  m_path = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(m_path, ignored);
}

LivechatServer start_serve(std::vector<std::string> extra) {
  std::vector<std::string> args = {"serve", "--port", "0", "--notify-port", "0"};
  args.insert(args.end(), extra.begin(), extra.end());
  return LivechatServer(args);
}

wire::Draft change_draft(wire::EventKind kind, const std::string& message_id,
                         const std::string& user, const std::string& content,
                         const std::string& emoji, bool removed) {
  wire::Draft draft;
  draft.kind = kind;
  draft.message_id = message_id;
  draft.user = user;
  draft.content = content;
  draft.emoji = emoji;
  draft.removed = removed;
  return draft;
}

wire::Draft numbered_draft(int n, const std::string& room) {
  return {"content " + std::to_string(n), "tester", room};
}

std::vector<std::string> ids_of(const std::vector<wire::Message>& messages) {
  std::vector<std::string> out;
  out.reserve(messages.size());
  for (const auto& m : messages) {
    out.push_back(m.id);
  }
  return out;
}

std::string post_message(int port, const std::string& content) {
  httplib::Client client("127.0.0.1", port);
  auto result =
      client.Post("/messages", nlohmann::json{{"content", content}}.dump(), "application/json");
  REQUIRE(result);
  REQUIRE(result->status == 201);
  return nlohmann::json::parse(result->body)["id"];
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n') {
      lines.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  return lines;
}

int connect_loopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  return fd;
}

}  // namespace livechat::test
