// Teardown states a Linux peer passes too quickly to catch (issue 12, family
// a): the scripted remote withholds the ACK of the kernel's FIN, so the
// kernel socket sits in LAST_ACK, CLOSING or FIN_WAIT1 with data it never
// read, and then the application closes it. RFC 2525 2.17 asks for a RST;
// __tcp_close() sends it from any of these states (data_was_unread), with
// the sequence number tcp_acceptable_seq() gives: snd_nxt, past the FIN.
#include <sys/socket.h>

#include "fixtures/peers/scripted/handshake.h"
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

class WithheldAckTest : public ScriptedPeerTest,
                        public ::testing::WithParamInterface<IpFamily> {
 protected:
  UniqueFd OpenWithUnreadData() { return AcceptWithUnreadData(GetParam()); }

  void ShutdownWrite(int fd) {
    peer().Stimulus("shutdown(SHUT_WR)");
    ASSERT_EQ(::shutdown(fd, SHUT_WR), 0);
    peer().StimulusReturned();
  }

  // close() with the 3 bytes unread: the RST the rule asks for, at once,
  // counted as TCPAbortOnClose; then nothing more.
  void CloseExpectingRst(UniqueFd fd, uint32_t seq, uint32_t ack,
                         const std::string& cited) {
    absl::StatusOr<MibSnapshot> before = ReadTcpMib();
    ASSERT_THAT(before, IsOk());
    peer().Stimulus("close()");
    fd.reset();
    peer().StimulusReturned();
    // A slow (emulated) machine may let the FIN's retransmission timer fire
    // before close(): passed over.
    EXPECT_THAT(peer().NextSkippingRetransmissions(kSegmentTimeout),
                IsOkAndHolds(AllOf(Flags("R."), Seq(seq), Ack(ack), Len(0),
                                   Within(TimingBucket::kImmediate))))
        << cited;
    absl::StatusOr<MibSnapshot> after = ReadTcpMib();
    ASSERT_THAT(after, IsOk());
    const MibDelta delta = Subtract(*after, *before);
    EXPECT_EQ(delta.count("TCPAbortOnClose") ? delta.at("TCPAbortOnClose") : 0,
              1)
        << DeltaToString(delta) << cited;
    // The socket is gone: nothing can answer a timer.
    EXPECT_THAT(peer().ExpectQuiet(kQuietDelayedAckScale,
                                   "after the RST (delayed-ACK scale)"),
                IsOk())
        << cited;
    // __tcp_close(): tcp_set_state(TCP_CLOSE), then the socket is destroyed
    // (sock_diag lists nothing); the RST's reason is the unread data.
    EXPECT_EQ(KernelSocket(), "gone") << cited;
    ExpectResetReasons("kernel:TCP_ABORT_ON_CLOSE", cited);
  }
};

// CLOSE_WAIT, then shutdown(SHUT_WR): LAST_ACK with the FIN unacknowledged.
// The scripted peer's suites read the wire from the TUN device (its own
// capture); what they do not ask yet is said here, never by omission.
TCPSEM_DECLARE_WITNESSES(
    WithheldAckTest,
    {{Witness::kWire, kAsked},
     {Witness::kPeerApi,
      "n/a: the closer's close() is the stimulus; the remote end is the "
      "script"},
     {Witness::kCounters, kAsked},
     {Witness::kSockDiag, kAsked},
     {Witness::kResetReason, kAsked}});

TEST_P(WithheldAckTest, LastAckUnreadCloseResets) {
  UniqueFd fd = OpenWithUnreadData();
  if (!fd.valid()) return;
  ASSERT_THAT(peer().Inject(Seg("F."), "the remote's FIN"), IsOk());
  ASSERT_THAT(peer().Next(kSegmentTimeout),
              IsOkAndHolds(AllOf(Flags("."), Seq(1), Ack(5))));
  ShutdownWrite(fd.get());
  EXPECT_THAT(peer().Next(kSegmentTimeout),
              IsOkAndHolds(AllOf(Flags("F."), Seq(1), Ack(5),
                                 Within(TimingBucket::kImmediate))));
  EXPECT_THAT(WaitForTcpState(fd.get(), "LAST_ACK", kSegmentTimeout), IsOk());
  CloseExpectingRst(std::move(fd), 2, 5, Cite("withheld-ack.unread-rst"));
}

// FIN_WAIT1, then the remote's FIN that does not acknowledge ours: CLOSING.
TEST_P(WithheldAckTest, ClosingUnreadCloseResets) {
  UniqueFd fd = OpenWithUnreadData();
  if (!fd.valid()) return;
  ShutdownWrite(fd.get());
  EXPECT_THAT(peer().Next(kSegmentTimeout),
              IsOkAndHolds(AllOf(Flags("F."), Seq(1), Ack(4))));
  ASSERT_THAT(peer().Inject(Seg("F.").Ack(1), "the remote's FIN, ack 1"),
              IsOk());
  EXPECT_THAT(peer().Next(kSegmentTimeout),
              IsOkAndHolds(AllOf(Flags("."), Seq(2), Ack(5))));
  EXPECT_THAT(WaitForTcpState(fd.get(), "CLOSING", kSegmentTimeout), IsOk());
  CloseExpectingRst(std::move(fd), 2, 5, Cite("withheld-ack.unread-rst"));
}

// shutdown(SHUT_WR) and no ACK: FIN_WAIT1.
TEST_P(WithheldAckTest, FinWait1UnreadCloseResets) {
  UniqueFd fd = OpenWithUnreadData();
  if (!fd.valid()) return;
  ShutdownWrite(fd.get());
  EXPECT_THAT(peer().Next(kSegmentTimeout),
              IsOkAndHolds(AllOf(Flags("F."), Seq(1), Ack(4))));
  EXPECT_THAT(WaitForTcpState(fd.get(), "FIN_WAIT1", kSegmentTimeout), IsOk());
  CloseExpectingRst(std::move(fd), 2, 4, Cite("withheld-ack.unread-rst"));
}

INSTANTIATE_TEST_SUITE_P(ScriptedWithheldAck, WithheldAckTest,
                         ::testing::Values(IpFamily::kV4, IpFamily::kV6),
                         IpFamilyParamName());

}  // namespace
}  // namespace tcpsem
