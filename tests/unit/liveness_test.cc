// The liveness checks as pure functions: each trusts what a live witness
// sees and names the witness when it is not.
#include "fixtures/witnesses/liveness.h"

#include <netinet/tcp.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tcpsem {
namespace {

using ::testing::HasSubstr;

MibSnapshot Zero() {
  return {{"ActiveOpens", 0}, {"PassiveOpens", 0}, {"InSegs", 0},
          {"OutSegs", 0},     {"CurrEstab", 0},    {"OutRsts", 0}};
}

TEST(LivenessTest, CountersStartAtTheNamespacesZero) {
  EXPECT_TRUE(CountersAtNamespaceZero(Zero()).ok());
  MibSnapshot host = Zero();
  host["InSegs"] = 1234;  // another namespace's (or a stale) reading
  absl::Status s = CountersAtNamespaceZero(host);
  EXPECT_THAT(s.message(), HasSubstr("counters: "));
  EXPECT_THAT(s.message(), HasSubstr("InSegs=1234"));
  EXPECT_FALSE(CountersAtNamespaceZero({}).ok()) << "no counters at all";
}

TEST(LivenessTest, CountersMustMoveDuringSetup) {
  EXPECT_TRUE(CountersMovedDuringSetup({{"ActiveOpens", 1},
                                        {"PassiveOpens", 1},
                                        {"InSegs", 3},
                                        {"OutSegs", 3}})
                  .ok());
  absl::Status frozen = CountersMovedDuringSetup({});
  EXPECT_THAT(frozen.message(), HasSubstr("counters: "));
  EXPECT_THAT(frozen.message(), HasSubstr("InSegs +0 (needs +3)"));
}

Segment Syn(Direction d, bool ack) {
  Segment s;
  s.direction = d;
  s.flags = TH_SYN | (ack ? TH_ACK : 0);
  return s;
}

TEST(LivenessTest, WireMustHoldBothHalvesOfTheHandshake) {
  const Segment syn = Syn(Direction::kToCloser, false);
  const Segment syn_ack = Syn(Direction::kToPeer, true);
  EXPECT_TRUE(WireHoldsHandshake({syn, syn_ack}).ok());
  EXPECT_THAT(WireHoldsHandshake({syn}).message(),
              HasSubstr("SYN-ACK from it missing"));
  EXPECT_THAT(WireHoldsHandshake({}).message(), HasSubstr("wire: "));
}

TEST(LivenessTest, SockDiagMustListBothEnds) {
  DiagSocket closer = {};
  closer.local_port = 5000;
  closer.remote_port = 40000;
  DiagSocket peer = {};
  peer.local_port = 40000;
  peer.remote_port = 5000;
  EXPECT_TRUE(SockDiagFindsConnection({closer, peer}, 5000, 40000).ok());
  EXPECT_THAT(SockDiagFindsConnection({closer}, 5000, 40000).message(),
              HasSubstr("sock_diag: "));
  EXPECT_FALSE(SockDiagFindsConnection({}, 5000, 40000).ok());
}

TEST(LivenessTest, TcpInfoMustReadEstablished) {
  EXPECT_TRUE(TcpInfoSeesConnection("closer", TCP_ESTABLISHED).ok());
  EXPECT_THAT(TcpInfoSeesConnection("peer", TCP_CLOSE).message(),
              HasSubstr("TCP_INFO: the peer just connected reads as CLOSE"));
}

TEST(LivenessTest, EveryWireRstNeedsAnEvent) {
  Segment rst;
  rst.flags = TH_RST;
  EXPECT_TRUE(ResetsSeenForWireRsts({}, 0).ok());
  EXPECT_TRUE(ResetsSeenForWireRsts({rst}, 1).ok());
  EXPECT_THAT(ResetsSeenForWireRsts({rst}, 0).message(),
              HasSubstr("reset reason: the wire saw 1 RST"));
}

TEST(LivenessTest, ResetFormatNeedsTheFieldsTheWitnessReads) {
  constexpr char kSince610[] =
      "\tfield:int state;\toffset:24;\n"
      "\tfield:enum sk_rst_reason reason;\toffset:28;\n"
      "\tfield:__u8 saddr[28];\toffset:32;\n"
      "\tfield:__u8 daddr[28];\toffset:60;\n"
      "print fmt: \"src=%pISpc dest=%pISpc state=%s reason=%s\"\n";
  EXPECT_TRUE(ResetFormatMatches(kSince610).ok());
  constexpr char kNoReason[] =
      "\tfield:__u16 sport;\n\tfield:__u16 dport;\n\tfield:int state;\n"
      "print fmt: \"sport=%hu dport=%hu state=%s\"\n";
  EXPECT_THAT(ResetFormatMatches(kNoReason).message(),
              HasSubstr("reset reason: tcp_send_reset's format lacks the "
                        "fields the witness reads: reason"));
}

TEST(LivenessTest, EveryPeerCallNeedsItsResult) {
  PeerApi peer(-1, absl::Milliseconds(1));
  peer.SocketError();  // EBADF: a result like any other
  EXPECT_TRUE(PeerResultsRecorded(peer).ok()) << peer.ToString();
}

}  // namespace
}  // namespace tcpsem
