// Can the checks fail? A harness fault makes the closing side read all its
// data right before close(), which is what a stack that never resets for
// unread data looks like. The comparison must report the mismatch on the
// wire and on the peer's API for every such cell.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/harness/teardown_test.h"
#include "tests/harness/witness_registry.h"

namespace tcpsem {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::Field;

class FaultInjectionTest : public TeardownTest,
                           public ::testing::WithParamInterface<Scenario> {
 protected:
  // A self-test: what a faulted staging sees is not the kernel's behaviour.
  bool InScenarioRecord() const override { return false; }
};
TCPSEM_DECLARE_WITNESSES(FaultInjectionTest, {{Witness::kWire, kAsked},
                                              {Witness::kPeerApi, kAsked},
                                              {Witness::kCounters, kAsked},
                                              {Witness::kSockDiag, kAsked},
                                              {Witness::kResetReason, kAsked}});

TEST_P(FaultInjectionTest, DrainBeforeCloseIsCaught) {
  RequireFamily(GetParam().family);
  if (IsSkipped()) return;
  StageOptions options;
  options.fault = Fault::kDrainBeforeClose;
  std::optional<CellResult> result =
      StageAndJudge(GetParam(), options, /*expect_agreement=*/false);
  if (IsSkipped()) return;
  ASSERT_TRUE(result.has_value());
  if (result->observation.peer_data_held_back) {
    GTEST_SKIP() << "the fault needs all of the peer's data at the closer, "
                    "but this profile's buffers held some back in the peer";
  }
  EXPECT_THAT(result->mismatches,
              Contains(AllOf(Field(&Mismatch::witness, witness::kWireClose),
                             Field(&Mismatch::expected, "RST"),
                             Field(&Mismatch::observed, "FIN"))));
  EXPECT_THAT(result->mismatches,
              Contains(AllOf(Field(&Mismatch::witness, witness::kPeerRecv),
                             Field(&Mismatch::expected, "ECONNRESET"),
                             Field(&Mismatch::observed, "EOF"))));
  EXPECT_THAT(result->mismatches,
              Contains(Field(&Mismatch::witness, witness::kCountersClose)));
  // A FIN leaves the closer behind as an orphan, where a RST leaves none.
  EXPECT_THAT(
      result->mismatches,
      Contains(AllOf(Field(&Mismatch::witness, witness::kCloserAfterClose),
                     Field(&Mismatch::expected, "gone"))));
  if (result->observation.resets.has_value() &&
      result->expected.count(witness::kResetReasons) > 0) {
    EXPECT_THAT(result->mismatches,
                Contains(Field(&Mismatch::witness, witness::kResetReasons)));
  } else {
    RecordProperty("witness.reset_reason",
                   "n/a: reasons not pinned or unavailable on this kernel");
  }
}

// The other side of the coin: the rules follow the FIN_WAIT2 holder the
// staging observed (the full socket or a timewait mini-socket, decided by a
// race with the default tcp_fin_timeout). TCP_LINGER2 of 120 s makes the
// full socket hold it every time (tcp_rcv_state_process(), TCP_FIN_WAIT1;
// __tcp_close(), TCP_FIN_WAIT2): the cell must still agree with the rules,
// with the data after close counted as TCPAbortOnData.
class FullOrphanHolderTest : public TeardownTest,
                             public ::testing::WithParamInterface<Scenario> {
 protected:
  // A self-test of the staging's holder; its cells are the matrix's.
  bool InScenarioRecord() const override { return false; }
};
TCPSEM_DECLARE_WITNESSES(FullOrphanHolderTest,
                         {{Witness::kWire, kAsked},
                          {Witness::kPeerApi, kAsked},
                          {Witness::kCounters, kAsked},
                          {Witness::kSockDiag, kAsked},
                          {Witness::kResetReason, kAsked}});

TEST_P(FullOrphanHolderTest, RulesFollowTheObservedHolder) {
  RequireFamily(GetParam().family);
  if (IsSkipped()) return;
  StageOptions options;
  options.fault = Fault::kLongFinWait2;
  std::optional<CellResult> result =
      StageAndJudge(GetParam(), options, /*expect_agreement=*/true);
  if (IsSkipped()) return;
  ASSERT_TRUE(result.has_value());
  EXPECT_TRUE(result->observation.fin_wait2_holder.full_orphan)
      << "closer after close: " << result->observation.closer_after_close;
  EXPECT_EQ(result->observation.fin_wait2_holder.cause,
            FinWait2Holding::kLongFinTime);
  EXPECT_EQ(result->stagings, 1) << "a long FIN_WAIT2 is no race to retry";
  EXPECT_EQ(result->witnessed[witness::kCountersAfter],
            "EstabResets+1 OutRsts+1 TCPAbortOnData+1");
  if (result->observation.resets.has_value() &&
      result->expected.count(witness::kResetReasons) > 0) {
    EXPECT_EQ(result->witnessed[witness::kResetReasons],
              "closer:TCP_ABORT_ON_DATA");
  } else {
    RecordProperty("witness.reset_reason",
                   "n/a: reasons not pinned or unavailable on this kernel");
  }
}

std::vector<Scenario> FinCells() {
  std::vector<Scenario> cells;
  for (Family family : {Family::kV4, Family::kV6}) {
    for (Shutdown shutdown : {Shutdown::kNone, Shutdown::kWr}) {
      cells.push_back({family, Unread::kNone, Linger::kOff, shutdown, false});
    }
  }
  return cells;
}

INSTANTIATE_TEST_SUITE_P(SelfTest, FullOrphanHolderTest,
                         ::testing::ValuesIn(FinCells()),
                         [](const ::testing::TestParamInfo<Scenario>& info) {
                           return info.param.Name();
                         });

std::vector<Scenario> RstCells() {
  std::vector<Scenario> cells;
  for (Family family : {Family::kV4, Family::kV6}) {
    for (Unread unread : {Unread::kOne, Unread::kSegments}) {
      for (Shutdown shutdown : {Shutdown::kNone, Shutdown::kRd}) {
        cells.push_back({family, unread, Linger::kOff, shutdown, false});
      }
    }
  }
  return cells;
}

INSTANTIATE_TEST_SUITE_P(SelfTest, FaultInjectionTest,
                         ::testing::ValuesIn(RstCells()),
                         [](const ::testing::TestParamInfo<Scenario>& info) {
                           return info.param.Name();
                         });

}  // namespace
}  // namespace tcpsem
