// The remote's bare FIN against the kernel's zero receive window (issue 12,
// family b), then close() with the buffer full of unread data (RFC 2525
// 2.17). Kernels differ, verified in the kernel matrix: from upstream commit
// 2bd99aef1b19 ("tcp: accept bare FIN packets under memory pressure", Linux
// 6.10) tcp_data_queue() queues a bare FIN even with a zero window (6.12.117,
// 6.18.44); before it the FIN is dropped as out of window (6.1.192).
#include <sys/socket.h>

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "fixtures/base/errno_status.h"
#include "fixtures/base/kernel_version.h"
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

// The smallest receive buffer (the kernel doubles it and applies its
// floor, SOCK_MIN_RCVBUF): a few segments fill the window.
constexpr int kReceiveBuffer = 1;
constexpr size_t kChunk = 512;
// Bounds the filling: far more segments than a minimal buffer takes.
constexpr int kMaxFillSegments = 64;

class ZeroWindowFinTest : public ScriptedPeerTest,
                          public ::testing::WithParamInterface<IpFamily> {
 protected:
  // Window scaling off, so the window field is the window. The remote
  // sends within the advertised window until the kernel's ACK advertises
  // zero; returns the bytes sent (rcv_nxt = 1 + that), or 0 after a
  // recorded failure.
  uint32_t FillWindow(UniqueFd& fd) {
    SetIpv4Sysctl("tcp_window_scaling", "0");
    if (HasFatalFailure() || !StartPeer(GetParam())) return 0;
    fd = AcceptFromScript([](int listener) {
      return ::setsockopt(listener, SOL_SOCKET, SO_RCVBUF, &kReceiveBuffer,
                          sizeof(kReceiveBuffer)) == 0
                 ? absl::OkStatus()
                 : ErrnoStatus("setsockopt(SO_RCVBUF)");
    });
    if (!fd.valid()) return 0;
    uint32_t window = peer().exchange().at(1).packet.window;  // SYN-ACK
    uint32_t sent = 0;
    for (int i = 0; i < kMaxFillSegments && window > 0; ++i) {
      const size_t n = std::min<size_t>(window, kChunk);
      EXPECT_THAT(peer().Inject(Seg("P.").Data(std::string(n, 'x')),
                                absl::StrCat(kStagingStimulus, "fill")),
                  IsOk());
      sent += n;
      // Its ACK, at once or on the delayed-ACK timer.
      for (;;) {
        absl::StatusOr<ExchangedSegment> ack = peer().Next(kSegmentTimeout);
        if (!ack.ok()) {
          ADD_FAILURE() << "filling the window: no ACK of " << sent
                        << " bytes: " << ack.status();
          return 0;
        }
        if (ack->rel_ack == 1 + sent) {
          window = ack->packet.window;
          break;
        }
      }
    }
    EXPECT_EQ(window, 0u) << "the window never closed after " << sent
                          << " bytes";
    return window == 0 ? sent : 0;
  }
};

TCPSEM_DECLARE_WITNESSES(ZeroWindowFinTest, {{Witness::kWire, kAsked},
                                             {Witness::kPeerApi, kAsked},
                                             {Witness::kCounters, kAsked},
                                             {Witness::kSockDiag, kAsked},
                                             {Witness::kResetReason, kAsked}});

TEST_P(ZeroWindowFinTest, BareFinThenCloseWithUnreadData) {
  absl::StatusOr<KernelVersion> kernel = RunningKernelVersion();
  ASSERT_THAT(kernel, IsOk());
  const ScenarioRule* accepts =
      FindScenarioRule("zero-window.bare-fin-accepted");
  const ScenarioRule* drops = FindScenarioRule("zero-window.bare-fin-dropped");
  ASSERT_TRUE(accepts != nullptr && drops != nullptr);
  UniqueFd fd;
  const uint32_t sent = FillWindow(fd);
  if (sent == 0) return;
  const uint32_t rcv_nxt = 1 + sent;
  absl::StatusOr<MibSnapshot> before = ReadTcpMib();
  ASSERT_TRUE(before.ok()) << before.status();
  ASSERT_THAT(peer().Inject(Seg("F.").Seq(rcv_nxt), "the bare FIN"), IsOk());
  absl::StatusOr<ExchangedSegment> answer = peer().Next(kSegmentTimeout);
  absl::StatusOr<MibSnapshot> after = ReadTcpMib();
  ASSERT_TRUE(after.ok()) << after.status();
  const MibDelta delta = Subtract(*after, *before);
  const int64_t zero_window_drops =
      delta.count("TCPZeroWindowDrop") ? delta.at("TCPZeroWindowDrop") : 0;
  const std::string state = TcpStateNameOf(fd.get());
  NoteApi("state_after_fin", state);
  uint32_t acked = rcv_nxt;
  if (accepts->kernel.Holds(*kernel)) {
    const std::string cited = Cite("zero-window.bare-fin-accepted");
    EXPECT_THAT(answer,
                IsOkAndHolds(AllOf(Flags("."), Seq(1), Ack(rcv_nxt + 1))))
        << cited;
    EXPECT_EQ(state, "CLOSE_WAIT") << cited;
    EXPECT_EQ(KernelSocket(), "CLOSE_WAIT") << cited;
    EXPECT_EQ(zero_window_drops, 0) << DeltaToString(delta) << cited;
    acked = rcv_nxt + 1;
  } else if (drops->kernel.Holds(*kernel)) {
    const std::string cited = Cite("zero-window.bare-fin-dropped");
    EXPECT_THAT(answer,
                IsOkAndHolds(AllOf(Flags("."), Seq(1), Ack(rcv_nxt), Win(0))))
        << cited;
    EXPECT_EQ(state, "ESTABLISHED") << cited;
    EXPECT_EQ(KernelSocket(), "ESTABLISHED") << cited;
    EXPECT_EQ(zero_window_drops, 1) << DeltaToString(delta) << cited;
  } else {
    RecordProperty("unpinned",
                   absl::StrCat("kernel ", kernel->ToString(),
                                " lies between the verified kernels; answer: ",
                                answer.ok() ? DescribeSegment(*answer) : "none",
                                ", state ", state));
    if (state == "CLOSE_WAIT") acked = rcv_nxt + 1;
  }

  // Whatever became of the FIN, the buffer is full of unread data.
  const std::string cited = Cite("zero-window.unread-close-rst");
  peer().Stimulus("close()");
  fd.reset();
  peer().StimulusReturned();
  EXPECT_THAT(peer().NextSkippingRetransmissions(kSegmentTimeout),
              IsOkAndHolds(AllOf(Flags("R."), Seq(1), Ack(acked), Len(0),
                                 Within(TimingBucket::kImmediate))))
      << cited;
  EXPECT_THAT(peer().ExpectQuiet(kQuietDelayedAckScale, "after the RST"),
              IsOk())
      << cited;
  EXPECT_EQ(KernelSocket(), "gone") << cited;
  ExpectResetReasons("kernel:TCP_ABORT_ON_CLOSE", cited);
}

INSTANTIATE_TEST_SUITE_P(ScriptedZeroWindowFin, ZeroWindowFinTest,
                         ::testing::Values(IpFamily::kV4, IpFamily::kV6),
                         IpFamilyParamName());

}  // namespace
}  // namespace tcpsem
