// A RST against TIME_WAIT, with and without net.ipv4.tcp_rfc1337 (issue 12,
// family b). RFC 1337 ("TIME-WAIT Assassination Hazards") asks TIME_WAIT to
// ignore RSTs; Linux does so only with tcp_rfc1337 = 1
// (tcp_timewait_state_process()). Whether the timewait socket survived is
// read from the wire: a probe segment with new data is answered with an ACK
// by a living timewait socket (TCP_TW_ACK) and with a RST (seq = the probe's
// ACK field, tcp_v4_send_reset()/tcp_v6_send_reset()) once it is gone.
#include <sys/socket.h>

#include "fixtures/peers/scripted/handshake.h"
#include "fixtures/peers/scripted/scripted_peer_test.h"
#include "fixtures/peers/scripted/segment_matchers.h"
#include "fixtures/rules/scenario_rules.h"
#include "gmock/gmock.h"
#include "tests/harness/witness_registry.h"

namespace tcpsem {
namespace {

using ::testing::AllOf;

struct TimeWaitCase {
  IpFamily family;
  bool rfc1337;
};

class TimeWaitRstTest : public ScriptedPeerTest,
                        public ::testing::WithParamInterface<TimeWaitCase> {
 protected:
  // The kernel closes first (nothing unread): FIN; the remote ACKs it and
  // sends its own FIN; the kernel ACKs that and is in TIME_WAIT. Then remote
  // seq = 2, kernel seq = 2.
  bool EnterTimeWait() {
    if (!StartPeer(GetParam().family)) return false;
    SetIpv4Sysctl("tcp_rfc1337", GetParam().rfc1337 ? "1" : "0");
    if (HasFatalFailure()) return false;
    UniqueFd fd = AcceptFromScript();
    if (!fd.valid()) return false;
    peer().Stimulus("close()");
    fd.reset();
    peer().StimulusReturned();
    EXPECT_THAT(peer().Next(kSegmentTimeout),
                IsOkAndHolds(AllOf(Flags("F."), Seq(1), Ack(1))));
    EXPECT_THAT(peer().Inject(Seg(".").Ack(2), "the ACK of the FIN"), IsOk());
    EXPECT_THAT(peer().Inject(Seg("F.").Ack(2), "the remote's FIN"), IsOk());
    EXPECT_THAT(peer().Next(kSegmentTimeout),
                IsOkAndHolds(AllOf(Flags("."), Seq(2), Ack(2))));
    return !HasFailure();
  }
};

// The scripted peer's suites read the wire from the TUN device (its own
// capture); what they do not ask yet is said here, never by omission.
TCPSEM_DECLARE_WITNESSES(
    TimeWaitRstTest,
    {{Witness::kWire, kAsked},
     {Witness::kPeerApi,
      "n/a: the kernel socket is closed; TIME_WAIT has no descriptor"},
     {Witness::kCounters,
      "n/a: the wire, sock_diag and reset reason tell the kill; the "
      "counters that moved (TW, OutRsts) are recorded, not judged"},
     {Witness::kSockDiag, kAsked},
     {Witness::kResetReason, kAsked}});

TEST_P(TimeWaitRstTest, RstKillsTimeWaitUnlessRfc1337) {
  if (!EnterTimeWait()) return;
  const std::string cited =
      Cite(GetParam().rfc1337 ? "time-wait.rfc1337-ignores-rst"
                              : "time-wait.rst-kills");
  ASSERT_THAT(peer().Inject(Seg("R").Seq(2), "the RST"), IsOk());
  EXPECT_THAT(peer().ExpectQuiet(kQuietDelayedAckScale, "after the RST"),
              IsOk())
      << cited;
  // tcp_timewait_state_process(): the RST deschedules the timewait socket
  // (inet_twsk_deschedule_put()), or, with tcp_rfc1337, leaves it alone.
  EXPECT_EQ(KernelSocket(),
            GetParam().rfc1337 ? "TIME_WAIT (no descriptor)" : "gone")
      << cited;
  ASSERT_THAT(peer().Inject(Seg("P.").Seq(2).Ack(2).Data("x"), "the probe"),
              IsOk());
  if (GetParam().rfc1337) {
    EXPECT_THAT(peer().Next(kSegmentTimeout),
                IsOkAndHolds(AllOf(Flags("."), Seq(2), Ack(2), Len(0),
                                   Within(TimingBucket::kImmediate))))
        << cited;
  } else {
    EXPECT_THAT(peer().Next(kSegmentTimeout),
                IsOkAndHolds(AllOf(Flags("R"), Seq(2), Len(0),
                                   Within(TimingBucket::kImmediate))))
        << cited;
  }
  // The RST answering the probe comes from no socket (tcp_v4_rcv()/
  // tcp_v6_rcv() no_tcp_socket -> tcp_v{4,6}_send_reset(), reason
  // NO_SOCKET); the timewait socket's ACK is no RST.
  ExpectResetReasons(GetParam().rfc1337 ? "-" : "kernel:NO_SOCKET", cited);
}

std::string CaseName(const ::testing::TestParamInfo<TimeWaitCase>& info) {
  return IpFamilyName(info.param.family) +
         (info.param.rfc1337 ? "_Rfc1337" : "_Default");
}

INSTANTIATE_TEST_SUITE_P(ScriptedTimeWait, TimeWaitRstTest,
                         ::testing::Values(TimeWaitCase{IpFamily::kV4, false},
                                           TimeWaitCase{IpFamily::kV4, true},
                                           TimeWaitCase{IpFamily::kV6, false},
                                           TimeWaitCase{IpFamily::kV6, true}),
                         CaseName);

}  // namespace
}  // namespace tcpsem
