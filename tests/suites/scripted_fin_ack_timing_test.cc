// How soon the kernel acknowledges the remote's FIN (issue 12, family c):
// bare or riding on data, on a fresh connection or after an exchange. The
// delay is the witness: the bucket (timing_bucket.h) says whether the ACK
// left while the FIN was processed or on the delayed-ACK timer.
//
// The kernel's logic: tcp_fin() schedules an ACK and, from ESTABLISHED,
// enters pingpong mode (inet_csk_enter_pingpong_mode()); the ACK then goes
// out from __tcp_ack_snd_check(): at once when the socket is in quick-ACK
// mode or an immediate ACK is pending, else on the delayed-ACK timer
// (tcp_send_delayed_ack(), ato from TCP_ATO_MIN). Measured alike on 6.1.192,
// 6.12.117 (kernel matrix) and 6.18.44: only
// the bare FIN that is the first segment after the handshake is ACKed at
// once; data in front of the FIN, or an earlier exchange, delays it.
#include <sys/socket.h>

#include "absl/strings/str_cat.h"
#include "fixtures/peers/scripted/handshake.h"
#include "fixtures/peers/scripted/scripted_peer_test.h"
#include "fixtures/peers/scripted/segment_matchers.h"
#include "fixtures/rules/scenario_rules.h"
#include "fixtures/staging/socket_pair.h"
#include "gmock/gmock.h"
#include "tests/harness/witness_registry.h"

namespace tcpsem {
namespace {

using ::testing::AllOf;

class FinAckTimingTest : public ScriptedPeerTest,
                         public ::testing::WithParamInterface<IpFamily> {
 protected:
  UniqueFd Open() { return StartAndAccept(GetParam()); }

  // One request/response: the remote sends 3 bytes (ACKed: the first data
  // of a connection earns quick-ACK credit; its timing is staging, not
  // pinned, since an emulated guest may take longer than the immediate
  // bucket), the application reads them and answers 3 bytes, the remote
  // ACKs the answer. Afterwards remote seq = 4, kernel seq = 4.
  void Exchange(int fd) {
    ASSERT_THAT(peer().Inject(Seg("P.").Data("abc"),
                              absl::StrCat(kStagingStimulus, "the request")),
                IsOk());
    ASSERT_THAT(peer().Next(kSegmentTimeout),
                IsOkAndHolds(AllOf(Flags("."), Ack(4))));
    char buffer[3];
    ASSERT_EQ(::recv(fd, buffer, sizeof(buffer), 0), 3);
    peer().Stimulus(absl::StrCat(kStagingStimulus, "send(answer)"));
    ASSERT_EQ(::send(fd, "xyz", 3, 0), 3);
    peer().StimulusReturned();
    ASSERT_THAT(peer().Next(kSegmentTimeout),
                IsOkAndHolds(AllOf(Flags("P."), Seq(1), Ack(4), Len(3))));
    ASSERT_THAT(
        peer().Inject(Seg(".").Ack(4),
                      absl::StrCat(kStagingStimulus, "the ACK of the answer")),
        IsOk());
  }

  // The ACK of the FIN (seq `seq`, acking `ack`) in `bucket`, then quiet.
  void ExpectFinAck(uint32_t seq, uint32_t ack, TimingBucket bucket,
                    const std::string& cited) {
    EXPECT_THAT(peer().Next(kSegmentTimeout),
                IsOkAndHolds(AllOf(Flags("."), Seq(seq), Ack(ack), Len(0),
                                   Within(bucket))))
        << cited;
    EXPECT_THAT(peer().ExpectQuiet(kQuietDelayedAckScale,
                                   "after the FIN's ACK (delayed-ACK scale)"),
                IsOk())
        << cited;
    // tcp_fin(): ESTABLISHED -> CLOSE_WAIT on the remote's FIN; the
    // application still holds the socket.
    EXPECT_EQ(KernelSocket(), "CLOSE_WAIT") << cited;
  }
};

// The scripted peer's suites read the wire from the TUN device (its own
// capture); what they do not ask yet is said here, never by omission.
TCPSEM_DECLARE_WITNESSES(
    FinAckTimingTest,
    {{Witness::kWire, kAsked},
     {Witness::kPeerApi,
      "n/a: the peer is the script; the kernel socket's calls only stage data"},
     {Witness::kCounters,
      "n/a: the ACK's timing is the witness; the counters that moved are "
      "recorded, not judged (DelayedACKs counts timer expiries, timing)"},
     {Witness::kSockDiag, kAsked},
     {Witness::kResetReason, "n/a: no RST is involved"}});

TEST_P(FinAckTimingTest, BareFinOnFreshConnection) {
  UniqueFd fd = Open();
  if (!fd.valid()) return;
  ASSERT_THAT(peer().Inject(Seg("F."), "the FIN"), IsOk());
  ExpectFinAck(1, 2, TimingBucket::kImmediate,
               Cite("fin-ack.fresh-bare-immediate"));
}

TEST_P(FinAckTimingTest, FinWithDataOnFreshConnection) {
  UniqueFd fd = Open();
  if (!fd.valid()) return;
  ASSERT_THAT(peer().Inject(Seg("FP.").Data("abc"), "the data+FIN"), IsOk());
  ExpectFinAck(1, 5, TimingBucket::kDelayedAck, Cite("fin-ack.delayed"));
}

TEST_P(FinAckTimingTest, BareFinAfterExchange) {
  UniqueFd fd = Open();
  if (!fd.valid()) return;
  ASSERT_NO_FATAL_FAILURE(Exchange(fd.get()));
  ASSERT_THAT(peer().Inject(Seg("F."), "the FIN"), IsOk());
  ExpectFinAck(4, 5, TimingBucket::kDelayedAck, Cite("fin-ack.delayed"));
}

TEST_P(FinAckTimingTest, FinWithDataAfterExchange) {
  UniqueFd fd = Open();
  if (!fd.valid()) return;
  ASSERT_NO_FATAL_FAILURE(Exchange(fd.get()));
  ASSERT_THAT(peer().Inject(Seg("FP.").Data("def"), "the data+FIN"), IsOk());
  ExpectFinAck(4, 8, TimingBucket::kDelayedAck, Cite("fin-ack.delayed"));
}

INSTANTIATE_TEST_SUITE_P(ScriptedFinAckTiming, FinAckTimingTest,
                         ::testing::Values(IpFamily::kV4, IpFamily::kV6),
                         IpFamilyParamName());

}  // namespace
}  // namespace tcpsem
