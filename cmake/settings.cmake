# Compile settings shared by every livechat target, as an INTERFACE target.
add_library(livechat_settings INTERFACE)
target_compile_options(livechat_settings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast)
target_include_directories(livechat_settings INTERFACE ${PROJECT_SOURCE_DIR})
if(LIVECHAT_WERROR)
  target_compile_options(livechat_settings INTERFACE -Werror)
endif()
if(LIVECHAT_SANITIZE)
  # -O1 with line tables only: what the sanitizers' own guides suggest, and it builds in about
  # a third of the time -O2 -g takes (35.7 s against 13.5 s for server/http/routes.cpp under
  # ASan on 2 cores); reports still name every file and line.
  if(CMAKE_BUILD_TYPE STREQUAL "RelWithDebInfo")
    set(CMAKE_CXX_FLAGS_RELWITHDEBINFO "-O1 -g1 -DNDEBUG")
  endif()
  target_compile_options(livechat_settings INTERFACE
    -fsanitize=${LIVECHAT_SANITIZE} -fno-omit-frame-pointer)
  target_link_options(livechat_settings INTERFACE -fsanitize=${LIVECHAT_SANITIZE})
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # GCC 12 warns falsely inside <regex> and <functional> when it instruments them.
    target_compile_options(livechat_settings INTERFACE -Wno-maybe-uninitialized)
  endif()
  if(LIVECHAT_SANITIZE MATCHES "undefined")
    # Undefined behaviour stops the program, so a test cannot pass over it.
    target_compile_options(livechat_settings INTERFACE -fno-sanitize-recover=undefined)
  endif()
endif()
if(LIVECHAT_FUZZ)
  # Coverage for libFuzzer in every livechat library; the fuzz targets link its main.
  target_compile_options(livechat_settings INTERFACE -fsanitize=fuzzer-no-link)
endif()
