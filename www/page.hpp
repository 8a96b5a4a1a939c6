#pragma once

#include <string_view>

namespace livechat::www {

// Returns www/index.html as it was when the binary was built.
std::string_view index_html();

}  // namespace livechat::www
