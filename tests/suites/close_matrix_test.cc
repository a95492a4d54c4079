// The RFC 2525 section 2.17 close matrix: every cell staged on real sockets
// and judged, witness by witness, against the rule table.
#include "fixtures/staging/scenario.h"
#include "gtest/gtest.h"
#include "tests/harness/teardown_test.h"

namespace tcpsem {
namespace {

class CloseMatrixTest : public TeardownTest,
                        public ::testing::WithParamInterface<Scenario> {};

TEST_P(CloseMatrixTest, AgreesWithRuleTable) {
  RequireFamily(GetParam().family);
  if (IsSkipped()) return;
  std::optional<CellResult> result = StageAndJudge(GetParam());
  if (IsSkipped()) return;
  ASSERT_TRUE(result.has_value());
  EXPECT_TRUE(result->mismatches.empty());
}

INSTANTIATE_TEST_SUITE_P(Rfc2525, CloseMatrixTest,
                         ::testing::ValuesIn(CloseMatrix()),
                         [](const ::testing::TestParamInfo<Scenario>& info) {
                           return info.param.Name();
                         });

}  // namespace
}  // namespace tcpsem
