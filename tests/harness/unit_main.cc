// main() of the harness's unit tests: like gtest_main, but an unprivileged
// user first enters a user namespace of its own
// (fixtures/isolation/rootless.h), so the namespace-based unit tests run
// rootless too.
#include <iostream>

#include "fixtures/isolation/rootless.h"
#include "gtest/gtest.h"

int main(int argc, char** argv) {
  if (absl::Status s = tcpsem::EnterUserNamespaceIfUnprivileged(); !s.ok()) {
    std::cerr << "tcpsem: not root and no user namespace (" << s.message()
              << "): tests needing privileges skip\n";
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
