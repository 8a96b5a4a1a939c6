# Compile settings shared by every livechat target, as an INTERFACE target.
add_library(livechat_settings INTERFACE)
target_compile_options(livechat_settings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast)
target_include_directories(livechat_settings INTERFACE ${PROJECT_SOURCE_DIR})
if(LIVECHAT_WERROR)
  target_compile_options(livechat_settings INTERFACE -Werror)
endif()
if(LIVECHAT_SANITIZE)
  target_compile_options(livechat_settings INTERFACE
    -fsanitize=${LIVECHAT_SANITIZE} -fno-omit-frame-pointer)
  target_link_options(livechat_settings INTERFACE -fsanitize=${LIVECHAT_SANITIZE})
endif()
