#define CATCH_CONFIG_RUNNER
#include <signal.h>

#include <catch2/catch.hpp>

int main(int argc, char* argv[]) {
  // A server may close a connection before it has read a request's body (a 413, a refused
  // head); the write that follows must fail with EPIPE, not kill the test.
  ::signal(SIGPIPE, SIG_IGN);
  return Catch::Session().run(argc, argv);
}
