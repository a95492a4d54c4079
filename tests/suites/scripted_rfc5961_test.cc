// RFC 5961 against a connection holding data the application has not read
// (issue 12, family b): a RST exactly at rcv_nxt resets, one elsewhere in the
// window draws a challenge ACK, one outside is dropped (section 3); a SYN
// draws a challenge ACK (section 4); an ACK of data never sent (RFC 9293
// 3.10.7.4, RFC 5961 section 5). tcp_validate_incoming() and tcp_ack() in
// net/ipv4/tcp_input.c decide each.
#include <sys/socket.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "fixtures/base/errno_status.h"
#include "fixtures/base/kernel_version.h"
#include "fixtures/peers/scripted/handshake.h"
#include "fixtures/peers/scripted/scripted_peer_test.h"
#include "fixtures/peers/scripted/segment_matchers.h"
#include "fixtures/rules/scenario_rules.h"
#include "fixtures/staging/socket_pair.h"
#include "fixtures/staging/stage.h"
#include "fixtures/witnesses/mib_counters.h"
#include "gmock/gmock.h"
#include "tests/harness/witness_registry.h"

namespace tcpsem {
namespace {

using ::testing::AllOf;

// Beyond any receive window the kernel can advertise (1 GiB).
constexpr uint32_t kFarOutside = 1u << 30;

int64_t Moved(const MibDelta& delta, const char* counter) {
  auto it = delta.find(counter);
  return it == delta.end() ? 0 : it->second;
}

class Rfc5961Test : public ScriptedPeerTest,
                    public ::testing::WithParamInterface<IpFamily> {
 protected:
  // ESTABLISHED with 3 bytes unread: rcv_nxt = 4 (remote), snd_nxt = 1.
  UniqueFd OpenWithUnreadData() {
    UniqueFd fd = AcceptWithUnreadData(GetParam());
    if (!fd.valid()) return UniqueFd();
    absl::StatusOr<MibSnapshot> mib = ReadTcpMib();
    EXPECT_THAT(mib, IsOk());
    if (mib.ok()) before_ = *std::move(mib);
    return fd;
  }

  MibDelta Counters() {
    absl::StatusOr<MibSnapshot> after = ReadTcpMib();
    EXPECT_THAT(after, IsOk());
    return after.ok() ? Subtract(*after, before_) : MibDelta();
  }

  // The challenge ACK: seq = snd_nxt, ack = rcv_nxt, at once, counted;
  // the connection stays ESTABLISHED with its data.
  void ExpectChallengeAck(int fd, const std::string& cited) {
    EXPECT_THAT(peer().Next(kSegmentTimeout),
                IsOkAndHolds(AllOf(Flags("."), Seq(1), Ack(4), Len(0),
                                   Within(TimingBucket::kImmediate))))
        << cited;
    EXPECT_THAT(
        peer().ExpectQuiet(kQuietDelayedAckScale, "after the challenge ACK"),
        IsOk())
        << cited;
    EXPECT_EQ(Moved(Counters(), "TCPChallengeACK"), 1)
        << DeltaToString(Counters()) << cited;
    EXPECT_EQ(TcpStateNameOf(fd), "ESTABLISHED") << cited;
    EXPECT_EQ(KernelSocket(), "ESTABLISHED") << cited;
    ExpectResetReasons("-", cited);
  }

  MibSnapshot before_;  // after the setup, before the segment under test
};

// The scripted peer's suites read the wire from the TUN device (its own
// capture); what they do not ask yet is said here, never by omission.
TCPSEM_DECLARE_WITNESSES(Rfc5961Test, {{Witness::kWire, kAsked},
                                       {Witness::kPeerApi, kAsked},
                                       {Witness::kCounters, kAsked},
                                       {Witness::kSockDiag, kAsked},
                                       {Witness::kResetReason, kAsked}});

TEST_P(Rfc5961Test, RstAtRcvNxtResets) {
  UniqueFd fd = OpenWithUnreadData();
  if (!fd.valid()) return;
  ASSERT_THAT(peer().Inject(Seg("R").Seq(4), "RST at rcv_nxt"), IsOk());
  EXPECT_THAT(peer().ExpectQuiet(kQuietDelayedAckScale, "after the RST"),
              IsOk())
      << Cite("rfc5961.rst-exact-resets");
  EXPECT_THAT(WaitForTcpState(fd.get(), "CLOSE", kSegmentTimeout), IsOk())
      << Cite("rfc5961.rst-exact-resets");
  int error = 0;
  socklen_t length = sizeof(error);
  ASSERT_EQ(::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &length), 0);
  EXPECT_EQ(error, ECONNRESET) << Cite("rfc5961.rst-exact-resets");
  NoteApi("so_error", ErrnoName(error));
  // tcp_reset() -> tcp_done(): unhashed, sock_diag no longer lists it; the
  // kernel itself sent no RST.
  EXPECT_EQ(KernelSocket(), "gone") << Cite("rfc5961.rst-exact-resets");
  ExpectResetReasons("-", Cite("rfc5961.rst-exact-resets"));
  EXPECT_EQ(Moved(Counters(), "EstabResets"), 1)
      << Cite("rfc5961.rst-exact-resets");
}

TEST_P(Rfc5961Test, RstInsideWindowDrawsChallengeAck) {
  UniqueFd fd = OpenWithUnreadData();
  if (!fd.valid()) return;
  ASSERT_THAT(peer().Inject(Seg("R").Seq(4 + 1000), "RST in the window"),
              IsOk());
  ExpectChallengeAck(fd.get(), Cite("rfc5961.rst-in-window-challenge"));
}

TEST_P(Rfc5961Test, RstOutsideWindowIsDropped) {
  UniqueFd fd = OpenWithUnreadData();
  if (!fd.valid()) return;
  ASSERT_THAT(peer().Inject(Seg("R").Seq(4 + kFarOutside), "RST outside"),
              IsOk());
  EXPECT_THAT(peer().ExpectQuiet(kQuietDelayedAckScale, "after the RST"),
              IsOk())
      << Cite("rfc5961.rst-outside-dropped");
  EXPECT_EQ(TcpStateNameOf(fd.get()), "ESTABLISHED")
      << Cite("rfc5961.rst-outside-dropped");
  EXPECT_EQ(Moved(Counters(), "TCPChallengeACK"), 0)
      << Cite("rfc5961.rst-outside-dropped");
  EXPECT_EQ(KernelSocket(), "ESTABLISHED")
      << Cite("rfc5961.rst-outside-dropped");
}

TEST_P(Rfc5961Test, SynDrawsChallengeAck) {
  UniqueFd fd = OpenWithUnreadData();
  if (!fd.valid()) return;
  ASSERT_THAT(peer().Inject(Seg("S").Seq(4), "SYN"), IsOk());
  ExpectChallengeAck(fd.get(), Cite("rfc5961.syn-challenge"));
  EXPECT_EQ(Moved(Counters(), "TCPSYNChallenge"), 1)
      << Cite("rfc5961.syn-challenge");
}

// Kernels differ: with upstream 42726ec644cb the answer is a challenge ACK
// (tcp_ack(): after(ack, snd_nxt) -> tcp_send_challenge_ack()); without it
// the segment is dropped without an answer. Which kernels were run is each
// rule's kernel condition (scripted_rules.cc); on a kernel neither covers the
// answer is observed and recorded, not judged.
TEST_P(Rfc5961Test, AckOfUnsentData) {
  absl::StatusOr<KernelVersion> kernel = RunningKernelVersion();
  ASSERT_THAT(kernel, IsOk());
  const ScenarioRule* challenge =
      FindScenarioRule("rfc5961.ack-unsent-challenge");
  const ScenarioRule* silent = FindScenarioRule("rfc5961.ack-unsent-silent");
  ASSERT_TRUE(challenge != nullptr && silent != nullptr);
  UniqueFd fd = OpenWithUnreadData();
  if (!fd.valid()) return;
  ASSERT_THAT(peer().Inject(Seg(".").Ack(1 + 1000), "ACK of unsent data"),
              IsOk());
  if (challenge->kernel.Holds(*kernel)) {
    ExpectChallengeAck(fd.get(), Cite("rfc5961.ack-unsent-challenge"));
  } else if (silent->kernel.Holds(*kernel)) {
    EXPECT_THAT(peer().ExpectQuiet(kQuietDelayedAckScale,
                                   "after the ACK of unsent data"),
                IsOk())
        << Cite("rfc5961.ack-unsent-silent");
    EXPECT_EQ(Moved(Counters(), "TCPChallengeACK"), 0)
        << Cite("rfc5961.ack-unsent-silent");
    EXPECT_EQ(TcpStateNameOf(fd.get()), "ESTABLISHED")
        << Cite("rfc5961.ack-unsent-silent");
    EXPECT_EQ(KernelSocket(), "ESTABLISHED")
        << Cite("rfc5961.ack-unsent-silent");
  } else {
    absl::StatusOr<ExchangedSegment> answer =
        peer().Next(kQuietDelayedAckScale);
    RecordProperty(
        "unpinned",
        absl::StrCat("kernel ", RunningKernelDescription(),
                     " lies between the verified kernels; answer: ",
                     answer.ok() ? DescribeSegment(*answer) : "none"));
  }
}

INSTANTIATE_TEST_SUITE_P(ScriptedRfc5961, Rfc5961Test,
                         ::testing::Values(IpFamily::kV4, IpFamily::kV6),
                         IpFamilyParamName());

}  // namespace
}  // namespace tcpsem
