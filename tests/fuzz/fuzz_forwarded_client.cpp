// forwarded_client: what it returns is the input's last comma-separated entry without its
// surrounding blanks, never empty, with no comma and no blank at either end; and it is what a
// proxy's own entry appended to any header gives back.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "tests/fuzz/fuzz.hpp"
#include "wire/auth.hpp"

using livechat::fuzz::check;
using livechat::wire::forwarded_client;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view header(reinterpret_cast<const char*>(data), size);
  auto client = forwarded_client(header);
  auto blank = [](char c) { return c == ' ' || c == '\t'; };
  std::string_view last =
      header.substr(header.rfind(',') == std::string_view::npos ? 0 : header.rfind(',') + 1);
  if (!client) {
    check(last.find_first_not_of(" \t") == std::string_view::npos,
          "nothing only when the last entry is blank");
    return 0;
  }
  check(!client->empty(), "never empty");
  check(client->find(',') == std::string_view::npos, "no comma");
  check(!blank(client->front()) && !blank(client->back()), "no blank at either end");
  check(last.find(*client) != std::string_view::npos, "taken from the last entry");
  check(client->data() >= header.data() && client->data() + client->size() <= header.data() + size,
        "a view into the header");
  // A proxy that appends its client's address: that address comes back, whatever came before.
  std::string appended = std::string(header) + ", " + std::string(*client);
  auto again = forwarded_client(appended);
  check(again && *again == *client, "the appended entry is the one taken");
  return 0;
}
