// Can liveness fail? Each witness in turn is blinded through a test-only
// seam (fixtures/witnesses/witness_seams.h) and liveness must report it, by
// name, in the first test that uses it (at OpenConnection() for sock_diag
// and TCP_INFO, at the end for the others), while the other witnesses stay
// trusted. Here the reports are collected rather than failed
// (WitnessNotTrusted()), so the self-tests pass exactly when liveness works.
#include <sys/socket.h>

#include <string>
#include <vector>

#include "fixtures/staging/socket_pair.h"
#include "fixtures/witnesses/mib_counters.h"
#include "fixtures/witnesses/witness_seams.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/harness/deadline.h"
#include "tests/harness/status_matchers.h"
#include "tests/harness/teardown_test.h"
#include "tests/harness/witness_registry.h"

namespace tcpsem {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::StartsWith;

class WitnessSelfTest : public TeardownTest {
 protected:
  // It blinds its witnesses on purpose: not the kernel's behaviour.
  bool InScenarioRecord() const override { return false; }
  void WitnessNotTrusted(const absl::Status& why) override {
    reported_.emplace_back(why.message());
  }
  // A connection whose closer holds 10 unread bytes, so close() resets it.
  void CloseWithUnreadData(Connection& c) {
    ASSERT_EQ(::send(c.pair.peer.get(), "0123456789", 10, 0), 10);
    ASSERT_THAT(WaitForReceiveQueue(c.pair.closer.get(), 10, kDeadline),
                IsOk());
    ::close(c.pair.closer.release());
    ASSERT_THAT(c.wire->Sync(Phase::kClose, kDeadline), IsOk());
  }
  std::vector<std::string> reported_;
};
TCPSEM_DECLARE_WITNESSES(WitnessSelfTest, {{Witness::kWire, kAsked},
                                           {Witness::kPeerApi, kAsked},
                                           {Witness::kCounters, kAsked},
                                           {Witness::kSockDiag, kAsked},
                                           {Witness::kResetReason, kAsked}});

TEST_F(WitnessSelfTest, AllAliveWhenNothingIsBlinded) {
  Connection c;
  OpenConnection(Family::kV4, c);
  if (IsSkipped() || HasFatalFailure()) return;
  CloseWithUnreadData(c);
  c.peer->RecvToEnd();
  CheckFinalLiveness();
  EXPECT_THAT(reported_, IsEmpty());
}

TEST_F(WitnessSelfTest, FrozenCountersAreReported) {
  absl::StatusOr<MibSnapshot> frozen = ReadTcpMib();
  ASSERT_THAT(frozen, IsOk());
  ScopedBlindWitness blind({.mib_source = [frozen] { return frozen; }});
  Connection c;
  OpenConnection(Family::kV4, c);
  if (IsSkipped() || HasFatalFailure()) return;
  CheckFinalLiveness();
  EXPECT_THAT(reported_, ElementsAre(StartsWith("counters: ")));
}

// The matrix's staging checks the same: a frozen copy is what let 80 cells
// that expect no counter to move pass blind.
TEST_F(WitnessSelfTest, FrozenCountersAreReportedByTheMatrixStaging) {
  absl::StatusOr<MibSnapshot> frozen = ReadTcpMib();
  ASSERT_THAT(frozen, IsOk());
  ScopedBlindWitness blind({.mib_source = [frozen] { return frozen; }});
  StageAndJudge(
      {Family::kV4, Unread::kNone, Linger::kOff, Shutdown::kNone, false}, {},
      /*expect_agreement=*/false);
  if (IsSkipped()) return;
  EXPECT_THAT(reported_, ElementsAre(StartsWith("counters: ")));
}

TEST_F(WitnessSelfTest, CaptureThatMatchesNothingIsReported) {
  ScopedBlindWitness blind({.capture_tcp_filter = "tcp and not tcp"});
  Connection c;
  OpenConnection(Family::kV4, c);
  if (IsSkipped() || HasFatalFailure()) return;
  CheckFinalLiveness();
  EXPECT_THAT(reported_, ElementsAre(StartsWith("wire: ")));
}

TEST_F(WitnessSelfTest, SockDiagInTheWrongNamespaceIsReported) {
  ScopedBlindWitness blind({.sock_diag_elsewhere = true});
  Connection c;
  OpenConnection(Family::kV4, c);
  if (IsSkipped() || HasFatalFailure()) return;
  EXPECT_THAT(reported_, ElementsAre(StartsWith("sock_diag: ")));
}

TEST_F(WitnessSelfTest, TcpInfoOfAnotherSocketIsReported) {
  ScopedBlindWitness blind({.tcp_info_elsewhere = true});
  Connection c;
  OpenConnection(Family::kV4, c);
  if (IsSkipped() || HasFatalFailure()) return;
  EXPECT_THAT(reported_, ElementsAre(StartsWith("TCP_INFO: ")));
}

TEST_F(WitnessSelfTest, DroppedPeerResultsAreReported) {
  ScopedBlindWitness blind({.drop_peer_results = true});
  Connection c;
  OpenConnection(Family::kV4, c);
  if (IsSkipped() || HasFatalFailure()) return;
  CloseWithUnreadData(c);
  c.peer->RecvToEnd();
  CheckFinalLiveness();
  EXPECT_THAT(reported_, ElementsAre(StartsWith("peer API: ")));
}

TEST_F(WitnessSelfTest, ResetWatchOnTheWrongPortIsReported) {
  // Port 9 (discard): nothing in any namespace here talks TCP on it.
  ScopedBlindWitness blind({.reset_watch_port = 9});
  Connection c;
  OpenConnection(Family::kV4, c);
  if (IsSkipped() || HasFatalFailure()) return;
  if (c.resets == nullptr) {
    GTEST_SKIP() << "the reset-reason tracepoint is unavailable here";
  }
  CloseWithUnreadData(c);
  CheckFinalLiveness();
  EXPECT_THAT(reported_, ElementsAre(StartsWith("reset reason: ")));
}

// Every suite in this binary declares all five witnesses, each asked or
// n/a with a reason; a new suite without a declaration fails here (and in
// each of its tests, TeardownTest::SetUp()).
TEST(WitnessRegistryTest, EverySuiteDeclaresEveryWitness) {
  const ::testing::UnitTest& unit = *::testing::UnitTest::GetInstance();
  int declared = 0;
  for (int i = 0; i < unit.total_test_suite_count(); ++i) {
    const std::string name = unit.GetTestSuite(i)->name();
    // Checks of the harness itself, which stage no teardown: this one, and
    // the warm runner's (warm_runner_test.cc).
    if (name == "WitnessRegistryTest" || name == "WarmRunner") continue;
    const WitnessUses* uses = DeclaredWitnesses(name);
    if (uses == nullptr) {
      ADD_FAILURE() << name << " declares no witnesses";
      continue;
    }
    ++declared;
    EXPECT_THAT(DeclarationProblems(*uses), IsEmpty()) << name;
  }
  EXPECT_GE(declared, 12);
}

TEST(WitnessRegistryTest, IncompleteDeclarationsAreCaught) {
  EXPECT_THAT(DeclarationProblems({{Witness::kWire, kAsked},
                                   {Witness::kPeerApi, "n/a: "},
                                   {Witness::kCounters, "maybe"},
                                   {Witness::kSockDiag, "n/a: no socket"}}),
              ElementsAre(StartsWith("peer_api: "), StartsWith("counters: "),
                          StartsWith("reset_reason: not declared")));
}

}  // namespace
}  // namespace tcpsem
