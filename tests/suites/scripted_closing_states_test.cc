// An ACK of data never sent (RFC 9293 3.10.7.4, RFC 5961 5.2) against the
// teardown states a Linux peer leaves too quickly to aim at: CLOSE_WAIT with
// data unread, and FIN_WAIT2 (issue 12, family c). Unlike ESTABLISHED
// (ScriptedRfc5961.AckOfUnsentData: silent before upstream commit
// 42726ec644cb), these states reach tcp_ack() through
// tcp_rcv_state_process(), whose step 5 answers any tcp_ack() < 0 with a
// challenge ACK on every kernel.
#include <sys/socket.h>

#include "fixtures/peers/scripted/scripted_peer_test.h"
#include "fixtures/peers/scripted/segment_matchers.h"
#include "fixtures/rules/scenario_rules.h"
#include "fixtures/staging/socket_pair.h"
#include "fixtures/witnesses/mib_counters.h"
#include "gmock/gmock.h"
#include "tests/harness/witness_registry.h"

namespace tcpsem {
namespace {

using ::testing::AllOf;

class ClosingStatesTest : public ScriptedPeerTest,
                          public ::testing::WithParamInterface<IpFamily> {
 protected:
  // The challenge ACK (seq `seq`, ack `ack`) at once, counted once, then
  // quiet; the kernel socket still in `state`.
  void ExpectChallengeAck(int fd, uint32_t seq, uint32_t ack,
                          const std::string& state, const MibSnapshot& before) {
    const std::string cited = Cite("closing.ack-unsent-challenge");
    EXPECT_THAT(peer().Next(kSegmentTimeout),
                IsOkAndHolds(AllOf(Flags("."), Seq(seq), Ack(ack), Len(0),
                                   Within(TimingBucket::kImmediate))))
        << cited;
    EXPECT_THAT(
        peer().ExpectQuiet(kQuietDelayedAckScale, "after the challenge ACK"),
        IsOk())
        << cited;
    absl::StatusOr<MibSnapshot> after = ReadTcpMib();
    ASSERT_TRUE(after.ok()) << after.status();
    const MibDelta delta = Subtract(*after, before);
    EXPECT_EQ(delta.count("TCPChallengeACK") ? delta.at("TCPChallengeACK") : 0,
              1)
        << DeltaToString(delta) << cited;
    EXPECT_EQ(TcpStateNameOf(fd), state) << cited;
    EXPECT_EQ(KernelSocket(), state) << cited;
    ExpectResetReasons("-", cited);
  }
};

TCPSEM_DECLARE_WITNESSES(ClosingStatesTest, {{Witness::kWire, kAsked},
                                             {Witness::kPeerApi, kAsked},
                                             {Witness::kCounters, kAsked},
                                             {Witness::kSockDiag, kAsked},
                                             {Witness::kResetReason, kAsked}});

// CLOSE_WAIT with 3 bytes unread: rcv_nxt = 5 (data and FIN), snd_nxt = 1.
TEST_P(ClosingStatesTest, AckOfUnsentDataInCloseWait) {
  UniqueFd fd = AcceptWithUnreadData(GetParam());
  if (!fd.valid()) return;
  ASSERT_THAT(peer().Inject(Seg("F."), "the remote's FIN"), IsOk());
  ASSERT_THAT(peer().Next(kSegmentTimeout),
              IsOkAndHolds(AllOf(Flags("."), Seq(1), Ack(5))));
  ASSERT_THAT(WaitForTcpState(fd.get(), "CLOSE_WAIT", kSegmentTimeout), IsOk());
  absl::StatusOr<MibSnapshot> before = ReadTcpMib();
  ASSERT_TRUE(before.ok()) << before.status();
  ASSERT_THAT(
      peer().Inject(Seg(".").Seq(5).Ack(1 + 1000), "ACK of unsent data"),
      IsOk());
  ExpectChallengeAck(fd.get(), 1, 5, "CLOSE_WAIT", *before);
}

// FIN_WAIT2: the kernel's FIN (seq 1) acknowledged; snd_nxt = 2,
// rcv_nxt = 1.
TEST_P(ClosingStatesTest, AckOfUnsentDataInFinWait2) {
  UniqueFd fd = StartAndAccept(GetParam());
  if (!fd.valid()) return;
  peer().Stimulus("shutdown(SHUT_WR)");
  ASSERT_EQ(::shutdown(fd.get(), SHUT_WR), 0);
  peer().StimulusReturned();
  ASSERT_THAT(peer().Next(kSegmentTimeout),
              IsOkAndHolds(AllOf(Flags("F."), Seq(1), Ack(1))));
  ASSERT_THAT(peer().Inject(Seg(".").Ack(2), "the ACK of the FIN"), IsOk());
  ASSERT_THAT(WaitForTcpState(fd.get(), "FIN_WAIT2", kSegmentTimeout), IsOk());
  absl::StatusOr<MibSnapshot> before = ReadTcpMib();
  ASSERT_TRUE(before.ok()) << before.status();
  ASSERT_THAT(peer().Inject(Seg(".").Ack(2 + 1000), "ACK of unsent data"),
              IsOk());
  ExpectChallengeAck(fd.get(), 2, 1, "FIN_WAIT2", *before);
}

INSTANTIATE_TEST_SUITE_P(ScriptedClosingStates, ClosingStatesTest,
                         ::testing::Values(IpFamily::kV4, IpFamily::kV6),
                         IpFamilyParamName());

}  // namespace
}  // namespace tcpsem
