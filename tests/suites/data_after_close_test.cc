// Data after close (issue 6, scenario 2): the closing side had nothing unread
// and closed with a FIN; then the peer, which has not read the FIN or
// ignores it, sends data. Nothing can receive that data any more, so the
// closed side answers with a RST. Which socket answers, and which counter
// moves, depends on what holds the connection at that moment; verified on
// 6.18 and pinned here:
//
//  - a full orphan in FIN_WAIT1 (its FIN still waits behind its own data,
//    which the peer's zero window holds back): tcp_rcv_state_process(),
//    FIN_WAIT1/FIN_WAIT2 with RCV_SHUTDOWN and new data: "RFC 1122 says we
//    MUST send a reset" (RFC 1122 4.2.2.13): TCPAbortOnData, tcp_reset(),
//    reason TCP_ABORT_ON_DATA;
//  - a full orphan in FIN_WAIT2, kept as a full socket because its FIN_WAIT2
//    time (TCP_LINGER2 120 s) exceeds TCP_TIMEWAIT_LEN (tcp_rcv_state_process
//    arms the keepalive timer instead of calling tcp_time_wait()): the same
//    path, TCPAbortOnData, TCP_ABORT_ON_DATA;
//  - the default: the FIN_WAIT2 orphan was handed to a timewait mini-socket
//    (tcp_time_wait(sk, TCP_FIN_WAIT2, tmo)); tcp_timewait_state_process()
//    answers new data with TCP_TW_RST ("If new data arrive after half-duplex
//    close, reset"), reason TCP_TIMEWAIT_SOCKET, and no abort counter moves:
//    only OutRsts. The mini-socket is descheduled with it.
//
// Every case: the RST takes its sequence number from the ACK field of the
// segment that drew it (RFC 9293 3.10.7.1 / RFC 793 "Reset Generation";
// tcp_v4_send_reset() and tcp_v6_send_reset()), carries no ACK, and leaves no
// socket of the connection behind. The peer's view of it is pinned too:
// poll() and epoll agree, SO_ERROR holds ECONNRESET for a peer still
// ESTABLISHED and EPIPE for one in CLOSE_WAIT (tcp_reset()).
//
// Not covered: a real TIME_WAIT socket (both FINs exchanged) cannot receive
// new data from a live peer, whose own FIN came first; it answers stray
// segments with an ACK (TCP_TW_ACK), which needs a crafted segment.
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "absl/strings/str_cat.h"
#include "fixtures/base/wait_until.h"
#include "fixtures/rules/scenario_rules.h"
#include "fixtures/staging/fill_window.h"
#include "fixtures/staging/fin_wait2_holder.h"
#include "fixtures/staging/socket_pair.h"
#include "fixtures/witnesses/mib_counters.h"
#include "fixtures/witnesses/poll_view.h"
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

// What holds the closed side's end of the connection when the peer's data
// arrives.
enum class Holder {
  kFinWait1Orphan,
  kFinWait2Orphan,
  kFinWait2Timewait,
};

std::string HolderName(Holder holder) {
  switch (holder) {
    case Holder::kFinWait1Orphan:
      return "FinWait1Orphan";
    case Holder::kFinWait2Orphan:
      return "FinWait2Orphan";
    case Holder::kFinWait2Timewait:
      return "FinWait2Timewait";
  }
  return "Holder?";
}

struct Case {
  Family family;
  Holder holder;
  std::string Label() const { return HolderName(holder); }
};
void PrintTo(const Case& c, std::ostream* os) { *os << CaseName(c); }

class DataAfterCloseTest : public TeardownTest,
                           public ::testing::WithParamInterface<Case> {};
TCPSEM_DECLARE_WITNESSES(DataAfterCloseTest, {{Witness::kWire, kAsked},
                                              {Witness::kPeerApi, kAsked},
                                              {Witness::kCounters, kAsked},
                                              {Witness::kSockDiag, kAsked},
                                              {Witness::kResetReason, kAsked}});

TEST_P(DataAfterCloseTest, PeerDataDrawsRst) {
  const Case c = GetParam();
  Connection connection;
  OpenConnection(c.family, connection);
  if (IsSkipped() || HasFatalFailure()) return;
  ConnectedPair& pair = connection.pair;
  WireCapture& wire = *connection.wire;
  const int closer = pair.closer.get();
  const int peer = pair.peer.get();

  // Setup: what will hold the connection after close().
  std::string holding_state = "FIN_WAIT2";
  int holding_timer = 0;  // not pinned
  bool peer_established = false;
  switch (c.holder) {
    case Holder::kFinWait1Orphan: {
      // The closer's own data fills the peer's window; its FIN queues
      // behind it (tcp_send_fin() appends to the unsent tail) and cannot
      // leave, so the orphan stays in FIN_WAIT1 and the peer ESTABLISHED.
      absl::StatusOr<int> written = FillWindow(closer, kDeadline);
      ASSERT_THAT(written, IsOk());
      RecordProperty("closer_bytes_queued", absl::StrCat(*written));
      holding_state = "FIN_WAIT1";
      peer_established = true;
      break;
    }
    case Holder::kFinWait2Orphan: {
      // tcp_fin_time() > TCP_TIMEWAIT_LEN (60 s): the orphan stays a full
      // socket, timed by the keepalive timer.
      const int linger2 = 120;
      ASSERT_EQ(::setsockopt(closer, IPPROTO_TCP, TCP_LINGER2, &linger2,
                             sizeof(linger2)),
                0);
      holding_timer = 2;
      break;
    }
    case Holder::kFinWait2Timewait:
      holding_timer = 3;
      break;
  }
  ASSERT_THAT(wire.Sync(Phase::kSetup, kDeadline), IsOk());

  ::close(pair.closer.release());
  // Wait for the orphan's state: for FIN_WAIT2, the peer's delayed ACK of
  // the FIN (tcp_fin() puts the peer in pingpong mode) must arrive first.
  std::optional<DiagSocket> holder;
  ASSERT_THAT(
      WaitUntil(
          [&]() -> absl::StatusOr<bool> {
            absl::StatusOr<std::optional<DiagSocket>> s =
                LookupTcpSocket(pair.closer_ends);
            if (!s.ok()) return s.status();
            holder = *s;
            return holder.has_value() &&
                   TcpStateName(holder->state) == holding_state;
          },
          kDeadline, absl::StrCat("the closed side in ", holding_state)),
      IsOk())
      << "last seen: " << (holder ? holder->ToString() : "no socket");
  ASSERT_THAT(wire.Sync(Phase::kClose, kDeadline), IsOk());
  // The default's timewait hand-over loses a race now and then: the full
  // socket keeps FIN_WAIT2 when the ACK of the FIN was processed while
  // close() held the lock (fin_wait2_holder.h). Judged as what it is.
  absl::StatusOr<FinWait2Holding> holding_kind = ClassifyFinWait2Holder(
      holder, c.holder == Holder::kFinWait2Orphan ? 120 : 0);
  ASSERT_THAT(holding_kind, IsOk());
  const bool lost_race =
      holding_kind->cause == FinWait2Holding::kAckUnderCloseLock;
  if (lost_race) {
    RecordProperty("fin_wait2_holder", "full orphan: " + holding_kind->cause);
    holding_timer = 2;
  }
  const std::string holding = Cite("after-close.orphan-holder");
  // tcp_close() -> tcp_send_fin(): the FIN leaves at once unless unsent
  // data is queued before it.
  EXPECT_WITNESS("wire: close emits",
                 c.holder == Holder::kFinWait1Orphan ? "-" : "FIN",
                 wire.CloserEmitted(Phase::kClose), holding);
  EXPECT_WITNESS("sock_diag: orphan", true, holder->orphan(),
                 absl::StrCat(holding, "\n  (", holder->ToString(), ")"));
  if (holding_timer != 0) {
    EXPECT_WITNESS("sock_diag: holder's timer", holding_timer, holder->timer,
                   holding);
  }
  absl::StatusOr<int> peer_state = TcpState(peer);
  ASSERT_THAT(peer_state, IsOk());
  EXPECT_WITNESS("TCP_INFO: peer state",
                 peer_established ? "ESTABLISHED" : "CLOSE_WAIT",
                 TcpStateName(*peer_state), holding);

  // After: the peer sends data nobody can read.
  absl::StatusOr<MibSnapshot> before = ReadTcpMib();
  ASSERT_THAT(before, IsOk());
  ASSERT_EQ(::send(peer, "0123456789", 10, MSG_NOSIGNAL), 10);
  absl::StatusOr<bool> reset = wire.WaitFor(
      Phase::kAfter,
      [](const Segment& s) {
        return s.direction == Direction::kToPeer && s.has(TH_RST);
      },
      kDeadline);
  ASSERT_THAT(reset, IsOk());
  ASSERT_TRUE(*reset) << "no RST answered the peer's data";
  ASSERT_THAT(wire.Sync(Phase::kAfter, kDeadline), IsOk());
  absl::StatusOr<MibSnapshot> after = ReadTcpMib();
  ASSERT_THAT(after, IsOk());

  const bool aborted_on_data =
      c.holder != Holder::kFinWait2Timewait || lost_race;
  const std::string rule =
      Cite(aborted_on_data ? "after-close.orphan-abort-on-data"
                           : "after-close.timewait-rst");
  // Wire: one RST, its sequence number from the data segment's ACK field.
  EXPECT_WITNESS("wire: after emits", "RST", wire.CloserEmitted(Phase::kAfter),
                 rule);
  const Segment* data = nullptr;
  const Segment* rst = nullptr;
  for (const Segment& s : wire.segments()) {
    if (s.phase != Phase::kAfter) continue;
    if (s.direction == Direction::kToCloser && s.length == 10) data = &s;
    if (s.direction == Direction::kToPeer && s.has(TH_RST)) rst = &s;
  }
  ASSERT_NE(data, nullptr) << "the peer's 10 bytes were not captured";
  ASSERT_NE(rst, nullptr);
  EXPECT_WITNESS_RELATION("wire: RST seq = the data's ACK", data->ack, rst->seq,
                          Cite("reset.seq-from-ack"));
  EXPECT_WITNESS("wire: RST flags", "RST", FlagNames(rst->flags),
                 Cite("reset.seq-from-ack"));

  // Counters.
  // EstabResets: the peer leaves ESTABLISHED or CLOSE_WAIT.
  EXPECT_WITNESS("counters: after",
                 aborted_on_data ? "EstabResets+1 OutRsts+1 TCPAbortOnData+1"
                                 : "EstabResets+1 OutRsts+1",
                 TeardownDeltaToString(*after, *before), rule);

  // Socket states: nothing of the connection is left anywhere. A dump of
  // the port, not lookups of the two ends: it also shows sockets the test
  // cannot name.
  absl::StatusOr<std::vector<DiagSocket>> left =
      ListTcpSocketsOnPort(pair.closer_port);
  ASSERT_THAT(left, IsOk());
  std::string remaining;
  for (const DiagSocket& s : *left) absl::StrAppend(&remaining, s.ToString());
  EXPECT_WITNESS("sock_diag: sockets left", "", remaining, rule);

  // The kernel's reason.
  if (std::optional<std::vector<ResetEvent>> events =
          PinnedResets(connection)) {
    EXPECT_WITNESS(
        "reset reason",
        aborted_on_data ? "TCP_ABORT_ON_DATA" : "TCP_TIMEWAIT_SOCKET",
        ResetReasons(*events), rule);
    if (!events->empty()) {
      EXPECT_WITNESS_RELATION("reset reason: from port", pair.closer_port,
                              events->front().sport, rule);
    }
  }

  // The peer's view: readiness first (both APIs), then the pending error,
  // which tcp_reset() set from the peer's state.
  absl::StatusOr<std::string> polled = PollEvents(peer);
  absl::StatusOr<std::string> epolled = EpollEvents(peer);
  ASSERT_THAT(polled, IsOk());
  ASSERT_THAT(epolled, IsOk());
  const std::string peer_rule = Cite("reset.peer-error");
  EXPECT_WITNESS("peer: poll", "IN,OUT,ERR,HUP,RDHUP", *polled, peer_rule);
  EXPECT_WITNESS("peer: epoll", *polled, *epolled, peer_rule);
  absl::StatusOr<std::string> error = TakeSocketError(peer);
  ASSERT_THAT(error, IsOk());
  EXPECT_WITNESS("peer: SO_ERROR", peer_established ? "ECONNRESET" : "EPIPE",
                 *error, peer_rule);
  absl::StatusOr<int> peer_final = TcpState(peer);
  ASSERT_THAT(peer_final, IsOk());
  EXPECT_WITNESS("TCP_INFO: peer state", "CLOSE", TcpStateName(*peer_final),
                 peer_rule);
}

std::vector<Case> AllCases() {
  std::vector<Case> cases;
  for (Family family : {Family::kV4, Family::kV6}) {
    for (Holder holder : {Holder::kFinWait1Orphan, Holder::kFinWait2Orphan,
                          Holder::kFinWait2Timewait}) {
      cases.push_back({family, holder});
    }
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(DataAfterClose, DataAfterCloseTest,
                         ::testing::ValuesIn(AllCases()), CaseNamer());

}  // namespace
}  // namespace tcpsem
