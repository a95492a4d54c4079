// ctest runs the suites through the warm runner (fixtures/gtest/
// warm_server.h): this test fails when ctest ran it in a process of its own
// although a runner was serving, e.g. when tcpsem_matrix's launcher
// (CROSSCOMPILING_EMULATOR) is set after gtest_discover_tests() has read it.
#include <sys/stat.h>

#include <cstdlib>
#include <string>

#include "gtest/gtest.h"

namespace tcpsem {
namespace {

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? "" : value;
}

TEST(WarmRunner, CtestRunsThisTestInAChildOfTheRunner) {
  const std::string socket = Env("TCPSEM_WARM_SOCKET");
  if (socket.empty())
    GTEST_SKIP() << "not run by ctest (no TCPSEM_WARM_SOCKET)";
  if (Env("TCPSEM_WARM") == "off") GTEST_SKIP() << "TCPSEM_WARM=off";
  struct stat st;
  if (::stat(socket.c_str(), &st) != 0) {
    GTEST_SKIP() << "no runner at " << socket
                 << " (warm.start_tcpsem_matrix says why it did not start)";
  }
  EXPECT_EQ(Env("TCPSEM_WARM_SERVED"), "1")
      << "a runner serves " << socket
      << " but ctest ran this test in a process of its own: is the "
         "launcher (tcpsem_warm_runner() in tests/CMakeLists.txt) set "
         "before gtest_discover_tests()?";
}

}  // namespace
}  // namespace tcpsem
