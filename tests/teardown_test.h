// The base of every teardown test: a private network namespace per test, the
// prerequisites checked (skipped with a reason, never passed), and one call
// that stages a scenario, judges it and explains a failure.
#pragma once

#include <memory>
#include <optional>

#include "fixtures/cell_result.h"
#include "fixtures/netns.h"
#include "gtest/gtest.h"

namespace tcpsem {

class TeardownTest : public ::testing::Test {
 protected:
  void SetUp() override;
  // Skips when `scenario` needs IPv6 and the namespace has none.
  void RequireFamily(Family family);
  // Stages and judges `scenario`; records the result for the run's table
  // and record; on disagreement fails with the full explanation and saves
  // the capture. Returns nullopt when staging itself failed (also a failure).
  std::optional<CellResult> StageAndJudge(const Scenario& scenario,
                                          const StageOptions& options = {},
                                          bool expect_agreement = true);
  std::optional<PrivateNetns> netns_;
};

}  // namespace tcpsem
