// main() of the harness's unit tests: like gtest_main, but an unprivileged
// user first enters a user namespace of its own
// (fixtures/isolation/rootless.h), so the namespace-based unit tests run
// rootless too.
#include <iostream>
#include <optional>

#include "fixtures/gtest/warm_server.h"
#include "fixtures/isolation/rootless.h"
#include "gtest/gtest.h"

int main(int argc, char** argv) {
  if (absl::Status s = tcpsem::EnterUserNamespaceIfUnprivileged(); !s.ok()) {
    std::cerr << "tcpsem: not root and no user namespace (" << s.message()
              << "): tests needing privileges skip\n";
  }
  // Under ctest, a warm runner forks each unit test from one process
  // (fixtures/gtest/warm_server.h).
  auto run = [](int test_argc, char** test_argv) {
    ::testing::InitGoogleTest(&test_argc, test_argv);
    return RUN_ALL_TESTS();
  };
  if (std::optional<int> rc = tcpsem::WarmRunnerMain(
          argc, argv, [] { return absl::OkStatus(); }, run)) {
    return *rc;
  }
  return run(argc, argv);
}
