// The RFC 2525 2.17 hang itself: a peer blocked in send() on a zero window,
// and a closing side that stops reading and closes. With the data unread the
// close must reset the connection, which wakes the blocked writer with an
// error at once; had it sent a FIN, the writer would wait forever on a window
// that never opens. The contrast: a closing side that drains first closes
// with FIN, and the peer's next data draws a RST.
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "fixtures/base/errno_status.h"
#include "fixtures/base/wait_until.h"
#include "fixtures/reports/failure_report.h"
#include "fixtures/rules/scenario_rules.h"
#include "fixtures/staging/blocked_writer.h"
#include "fixtures/staging/fin_wait2_holder.h"
#include "fixtures/staging/observation.h"
#include "fixtures/staging/recv_once.h"
#include "fixtures/staging/socket_pair.h"
#include "fixtures/witnesses/mib_counters.h"
#include "fixtures/witnesses/sock_diag.h"
#include "fixtures/witnesses/tcp_state.h"
#include "fixtures/witnesses/wire_capture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/harness/case_name.h"
#include "tests/harness/deadline.h"
#include "tests/harness/expect_witness.h"
#include "tests/harness/status_matchers.h"
#include "tests/harness/teardown_test.h"
#include "tests/harness/witness_registry.h"

namespace tcpsem {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::Field;
using ::testing::IsEmpty;
using ::testing::MatchesRegex;

// TCP_RTO_MIN: a writer woken sooner was woken by the RST, not by a timer.
constexpr absl::Duration kPromptly = absl::Milliseconds(200);

class ZeroWindowHangTest : public TeardownTest,
                           public ::testing::WithParamInterface<Family> {
 protected:
  // A connected pair whose peer is blocked in send() on a zero window.
  void StageBlockedPeer() {
    Connection connection;
    OpenConnection(GetParam(), connection);
    if (IsSkipped() || HasFatalFailure()) return;
    pair_ = std::move(connection.pair);
    wire_ = std::move(connection.wire);
    resets_ = std::move(connection.resets);
    port_ = pair_.closer_port;
    writer_ = std::make_unique<BlockedWriter>(pair_.peer.get());
    ASSERT_THAT(writer_->WaitUntilBlocked(kDeadline), IsOk());
    ASSERT_THAT(wire_->Sync(Phase::kSetup, kDeadline), IsOk());
  }

  // Reads everything while the writer finishes its send() and stops, until
  // nothing is left in flight either way.
  void DrainEverything() {
    writer_->RequestStop();
    const int closer = pair_.closer.get();
    const int peer = pair_.peer.get();
    ASSERT_THAT(
        WaitUntil(
            [&]() -> absl::StatusOr<bool> {
              absl::StatusOr<Drained> drained = DrainReceiveQueue(closer);
              if (!drained.ok()) return drained.status();
              absl::StatusOr<int> outq = BytesInSendQueue(peer);
              absl::StatusOr<int> inq = BytesInReceiveQueue(closer);
              if (!outq.ok()) return outq.status();
              if (!inq.ok()) return inq.status();
              return writer_->result() == "stopped" && *outq == 0 && *inq == 0;
            },
            kDeadline, "the closer to drain everything", closer, POLLIN),
        IsOk());
  }

  // Closes the closing side (after draining everything, when asked: the
  // self-test's fault) and returns how the outcome deviates from RFC 2525
  // 2.17's, one row per witness (WitnessTable()); empty when it agrees.
  std::vector<Mismatch> CloseAndJudge(bool drain_first) {
    std::vector<Mismatch> deviations;
    auto expect = [&](const std::string& witness, const std::string& expected,
                      const std::string& observed) {
      if (observed != expected) {
        deviations.push_back(
            {witness, expected, observed, "hang.unread-rst-wakes-writer"});
      }
    };
    if (drain_first) DrainEverything();
    absl::StatusOr<int> unread = BytesInReceiveQueue(pair_.closer.get());
    absl::StatusOr<MibSnapshot> before = ReadTcpMib();
    if (!unread.ok() || !before.ok()) {
      return {{"staging", "state read", "cannot read state", "-"}};
    }
    const absl::Time closed_at = absl::Now();
    ::close(pair_.closer.release());
    if (!writer_->WaitUntilReturned(kDeadline).ok()) {
      expect("peer: blocked send()", "returns", "still hung");
      writer_->RequestStop();
      ::shutdown(pair_.peer.get(), SHUT_RDWR);  // let the thread end
      return deviations;
    }
    const absl::Duration woke_after = writer_->returned_at() - closed_at;
    absl::StatusOr<MibSnapshot> after = ReadTcpMib();
    // A dump of the port, not lookups of the two ends: what is left there
    // includes sockets the test cannot name.
    absl::StatusOr<std::vector<DiagSocket>> left = ListTcpSocketsOnPort(port_);
    absl::StatusOr<int> peer_state = TcpState(pair_.peer.get());
    if (!wire_->Sync(Phase::kClose, kDeadline).ok() || !after.ok() ||
        !left.ok() || !peer_state.ok()) {
      return {{"staging", "observed", "cannot observe the close", "-"}};
    }
    RecordProperty("blocked_send_woke_after_us",
                   absl::StrCat(absl::ToInt64Microseconds(woke_after)));
    RecordProperty("unread_at_close", absl::StrCat(*unread));
    std::cout << "blocked send() returned " << writer_->result() << " "
              << absl::FormatDuration(woke_after) << " after close() with "
              << *unread << " bytes unread\n";
    // RFC 2525 2.17; __tcp_close(): unread data -> RST, TCPAbortOnClose.
    expect("staging.unread_at_close", ">0", *unread > 0 ? ">0" : "0");
    expect("wire.close", "RST", wire_->CloserEmitted(Phase::kClose));
    expect("counters.close", "EstabResets+2 OutRsts+1 TCPAbortOnClose+1",
           TeardownDeltaToString(*after, *before));
    // tcp_reset() sets ECONNRESET (peer ESTABLISHED); the blocked send()
    // reports it, or the bytes it had queued first (tcp_sendmsg_locked()).
    constexpr char kWoken[] = "([0-9]+ bytes, then )?ECONNRESET";
    if (!::testing::Matches(MatchesRegex(kWoken))(writer_->result())) {
      expect("peer: blocked send()", kWoken, writer_->result());
    }
    if (woke_after >= kPromptly) {
      expect("peer: blocked send() woke", "under 200ms",
             absl::FormatDuration(woke_after));
    }
    // tcp_done() unhashes both ends: nothing of the connection is left.
    expect("sockdiag.sockets_left", "0", absl::StrCat(left->size()));
    expect("state.peer", "CLOSE", TcpStateName(*peer_state));
    return deviations;
  }

  uint16_t port_ = 0;
  std::shared_ptr<WireCapture> wire_;
  std::shared_ptr<ResetReasonWatch> resets_;
  ConnectedPair pair_;
  std::unique_ptr<BlockedWriter> writer_;
};
TCPSEM_DECLARE_WITNESSES(ZeroWindowHangTest, {{Witness::kWire, kAsked},
                                              {Witness::kPeerApi, kAsked},
                                              {Witness::kCounters, kAsked},
                                              {Witness::kSockDiag, kAsked},
                                              {Witness::kResetReason, kAsked}});

TEST_P(ZeroWindowHangTest, CloseWithUnreadDataWakesTheBlockedWriter) {
  StageBlockedPeer();
  if (IsSkipped() || HasFatalFailure()) return;
  const std::string rule = Cite("hang.unread-rst-wakes-writer");
  if (std::vector<Mismatch> deviations = CloseAndJudge(/*drain_first=*/false);
      !deviations.empty()) {
    ADD_FAILURE() << "witnesses disagree with the rule\n"
                  << WitnessTable(deviations) << rule;
  }
  if (std::optional<std::vector<ResetEvent>> events =
          PinnedResets(resets_.get())) {
    EXPECT_WITNESS("reset reason", "TCP_ABORT_ON_CLOSE", ResetReasons(*events),
                   rule);
  }
}

// Can these checks fail? The closing side drains everything first (what a
// stack that never resets for unread data would look like from outside):
// the judgement must name the wire and the blocked writer.
TEST_P(ZeroWindowHangTest, SelfTestDrainBeforeCloseIsCaught) {
  StageBlockedPeer();
  if (IsSkipped() || HasFatalFailure()) return;
  const std::vector<Mismatch> deviations = CloseAndJudge(/*drain_first=*/true);
  auto row = [](const char* witness) {
    return Contains(Field(&Mismatch::witness, witness));
  };
  EXPECT_THAT(deviations,
              Contains(AllOf(Field(&Mismatch::witness, "wire.close"),
                             Field(&Mismatch::expected, "RST"))));
  EXPECT_THAT(deviations, row("peer: blocked send()"));
  EXPECT_THAT(deviations, row("counters.close"));
  EXPECT_THAT(deviations, row("sockdiag.sockets_left"));
  // A drained close sends no RST, so no reason either.
  if (std::optional<std::vector<ResetEvent>> events =
          PinnedResets(resets_.get())) {
    EXPECT_THAT(*events, IsEmpty());
  }
}

TEST_P(ZeroWindowHangTest, DrainingFirstClosesWithFinAndLaterDataDrawsRst) {
  StageBlockedPeer();
  if (IsSkipped() || HasFatalFailure()) return;
  const int peer = pair_.peer.get();
  DrainEverything();
  if (HasFatalFailure()) return;
  ASSERT_THAT(wire_->Sync(Phase::kShutdown, kDeadline), IsOk());
  absl::StatusOr<MibSnapshot> before = ReadTcpMib();
  ASSERT_THAT(before, IsOk());

  ::close(pair_.closer.release());
  ASSERT_THAT(wire_->Sync(Phase::kClose, kDeadline), IsOk());
  std::string rule = Cite("hang.drained-fin-then-rst");
  EXPECT_WITNESS("wire: close emits", "FIN",
                 wire_->CloserEmitted(Phase::kClose), rule);
  // Let the peer's (delayed) ACK of the FIN arrive first, so the closed side
  // is in FIN_WAIT2, not an orphan still in FIN_WAIT1: the same order the
  // matrix stages. Which socket then holds FIN_WAIT2 is a race
  // (fin_wait2_holder.h), observed below.
  absl::StatusOr<bool> acked = wire_->WaitFor(
      Phase::kClose,
      [](const Segment& s) {
        return s.direction == Direction::kToCloser && s.has(TH_ACK) &&
               s.phase == Phase::kClose;
      },
      kDeadline);
  ASSERT_THAT(acked, IsOk());
  ASSERT_TRUE(*acked) << "the FIN was never acknowledged";
  absl::StatusOr<std::optional<DiagSocket>> closed =
      LookupTcpSocket(pair_.closer_ends);
  ASSERT_THAT(closed, IsOk());
  absl::StatusOr<FinWait2Holding> holder = ClassifyFinWait2Holder(*closed, 0);
  ASSERT_THAT(holder, IsOk());
  const bool full_orphan = holder->full_orphan;
  if (full_orphan) {
    RecordProperty("fin_wait2_holder", "full orphan: " + holder->cause);
    rule = absl::StrCat(rule, "\n", Cite("after-close.orphan-abort-on-data"));
  }

  // The peer reads EOF, then writes: RFC 1122 4.2.2.13, data after close
  // draws a RST; the write after that fails.
  char byte = 0;
  pollfd pfd = {peer, POLLRDHUP, 0};
  ASSERT_EQ(::poll(&pfd, 1, absl::ToInt64Milliseconds(kDeadline)), 1);
  EXPECT_WITNESS("peer: recv", 0, ::recv(peer, &byte, 1, MSG_DONTWAIT), rule);
  EXPECT_WITNESS("peer: send", 1, ::send(peer, "x", 1, MSG_NOSIGNAL), rule);
  absl::StatusOr<bool> reset = wire_->WaitFor(
      Phase::kAfter,
      [](const Segment& s) {
        return s.direction == Direction::kToPeer && s.has(TH_RST);
      },
      kDeadline);
  ASSERT_THAT(reset, IsOk());
  EXPECT_WITNESS("wire: the data drew a RST", true, *reset, rule);
  pfd = {peer, 0, 0};
  ASSERT_EQ(::poll(&pfd, 1, absl::ToInt64Milliseconds(kDeadline)), 1);
  // tcp_reset() in CLOSE_WAIT records EPIPE.
  const bool sent = ::send(peer, "x", 1, MSG_NOSIGNAL) == 1;
  EXPECT_WITNESS("peer: send after the RST", "EPIPE",
                 sent ? "1" : ErrnoName(errno), rule);
  ASSERT_THAT(wire_->Sync(Phase::kAfter, kDeadline), IsOk());
  absl::StatusOr<MibSnapshot> after = ReadTcpMib();
  ASSERT_THAT(after, IsOk());
  // No abort at close (FIN); the answer to the data is counted once, as an
  // abort only when the full orphan answered it.
  EXPECT_WITNESS("counters",
                 full_orphan ? "EstabResets+1 OutRsts+1 TCPAbortOnData+1"
                             : "EstabResets+1 OutRsts+1",
                 TeardownDeltaToString(*after, *before), rule);
  // The RST ended both: nothing of the connection is left (a dump of the
  // port: it also shows sockets the test cannot name).
  absl::StatusOr<std::vector<DiagSocket>> left = ListTcpSocketsOnPort(port_);
  ASSERT_THAT(left, IsOk());
  EXPECT_WITNESS("sock_diag: sockets left", 0, left->size(), rule);
  if (std::optional<std::vector<ResetEvent>> events =
          PinnedResets(resets_.get())) {
    EXPECT_WITNESS("reset reason",
                   full_orphan ? "TCP_ABORT_ON_DATA" : "TCP_TIMEWAIT_SOCKET",
                   ResetReasons(*events), rule);
  }
}

INSTANTIATE_TEST_SUITE_P(Rfc2525Hang, ZeroWindowHangTest,
                         ::testing::Values(Family::kV4, Family::kV6),
                         CaseNamer());

}  // namespace
}  // namespace tcpsem
