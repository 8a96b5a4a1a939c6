# Third-party libraries, all from Debian's packages (scripts/setup installs them).
find_package(PkgConfig REQUIRED)
# cpp-httplib 0.11.4 is a compiled library with no CMake package; its Cflags
# (OpenSSL, zlib, brotli) must match the ones the .so was built with.
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
pkg_check_modules(SQLITE REQUIRED IMPORTED_TARGET sqlite3)
pkg_check_modules(HIREDIS REQUIRED IMPORTED_TARGET hiredis)
pkg_check_modules(JWT REQUIRED IMPORTED_TARGET libjwt)
# TLS for the services (cpp-httplib's own build uses the same OpenSSL).
pkg_check_modules(OPENSSL REQUIRED IMPORTED_TARGET openssl)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(spdlog REQUIRED)
find_package(CLI11 REQUIRED)
find_package(Threads REQUIRED)
if(LIVECHAT_TESTS)
  find_package(Catch2 2 REQUIRED)
endif()
