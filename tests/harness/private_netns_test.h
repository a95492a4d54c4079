// A unit test that runs in a private network namespace of its own (entered
// in SetUp(), left when the test ends), or is skipped saying why it cannot
// have one (not root).
#pragma once

#include <optional>
#include <utility>

#include "absl/status/statusor.h"
#include "fixtures/isolation/netns.h"
#include "gtest/gtest.h"

namespace tcpsem {

class PrivateNetnsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<PrivateNetns> netns = PrivateNetns::Enter();
    if (!netns.ok()) {
      GTEST_SKIP() << "needs a private network namespace (root): "
                   << netns.status();
    }
    netns_.emplace(*std::move(netns));
  }

  std::optional<PrivateNetns> netns_;
};

}  // namespace tcpsem
