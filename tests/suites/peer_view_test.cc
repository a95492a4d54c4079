// The peer's view of a teardown (issue 6, the poll witness): what poll(),
// epoll, SO_ERROR and recv() tell an application whose peer closed with a
// FIN, with a RST, or with a FIN and later a RST (data after close). Verified
// on 6.18 and pinned here, because applications decide on exactly these:
//
//  - readiness tells a RST from a FIN (ERR and HUP: tcp_poll() reports
//    EPOLLERR for sk_err and EPOLLHUP once both directions are shut down),
//    but not a RST from a FIN followed by a RST: both poll
//    IN,OUT,ERR,HUP,RDHUP;
//  - the pending error is read once, by whichever call comes first: after a
//    RST on an ESTABLISHED peer, recv() reports ECONNRESET and SO_ERROR is
//    then 0; read SO_ERROR first and it reports ECONNRESET while recv() then
//    reports a plain EOF (sock_error() clears sk_err; tcp_recvmsg_locked()
//    returns 0 once RCV_SHUTDOWN is set);
//  - a peer that had already received the FIN (CLOSE_WAIT) keeps reading
//    EOF whatever follows: tcp_recvmsg_locked() stops at SOCK_DONE before it
//    looks at sk_err, so the RST shows only in SO_ERROR, as EPIPE (tcp_reset()
//    maps CLOSE_WAIT to EPIPE).
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "fixtures/base/wait_until.h"
#include "fixtures/rules/scenario_rules.h"
#include "fixtures/staging/fin_wait2_holder.h"
#include "fixtures/staging/recv_once.h"
#include "fixtures/staging/socket_pair.h"
#include "fixtures/witnesses/mib_counters.h"
#include "fixtures/witnesses/poll_view.h"
#include "fixtures/witnesses/sock_diag.h"
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

enum class Ending {
  kFin,        // nothing unread: close() sends FIN
  kRst,        // 10 bytes unread: close() sends RST
  kFinThenRst  // FIN, then the peer's data draws a RST from the timewait
};
enum class Order { kRecvFirst, kErrorFirst };

const char* EndingName(Ending ending) {
  switch (ending) {
    case Ending::kFin:
      return "Fin";
    case Ending::kRst:
      return "Rst";
    case Ending::kFinThenRst:
      return "FinThenRst";
  }
  return "Ending?";
}

struct Case {
  Family family;
  Ending ending;
  Order order;
  // What the peer sees, in the order it asks: "poll=... epoll=... " then
  // "recv=... so_error=..." or "so_error=... recv=...".
  std::string expected;
  std::string Label() const {
    return absl::StrCat(
        EndingName(ending), "_",
        order == Order::kRecvFirst ? "RecvFirst" : "SoErrorFirst");
  }
};

void PrintTo(const Case& c, std::ostream* os) { *os << CaseName(c); }

// Whether the peer acknowledged the closer's FIN in a segment of its own
// before its data (else the data carried that ACK).
bool FinAckedBeforeData(const std::vector<Segment>& segments) {
  std::optional<uint32_t> fin_end;
  for (const Segment& s : segments) {
    if (s.direction == Direction::kToPeer && s.has(TH_FIN)) {
      fin_end = s.seq + s.length + 1;
    }
    if (!fin_end.has_value() || s.direction != Direction::kToCloser ||
        !s.has(TH_ACK) || static_cast<int32_t>(s.ack - *fin_end) < 0) {
      continue;
    }
    return s.length == 0;  // the first segment acknowledging the FIN
  }
  return false;
}

class PeerViewTest : public TeardownTest,
                     public ::testing::WithParamInterface<Case> {};
TCPSEM_DECLARE_WITNESSES(PeerViewTest, {{Witness::kWire, kAsked},
                                        {Witness::kPeerApi, kAsked},
                                        {Witness::kCounters, kAsked},
                                        {Witness::kSockDiag, kAsked},
                                        {Witness::kResetReason, kAsked}});

TEST_P(PeerViewTest, WhatThePeerIsTold) {
  const Case c = GetParam();
  Connection connection;
  OpenConnection(c.family, connection);
  if (IsSkipped() || HasFatalFailure()) return;
  const int closer = connection.pair.closer.get();
  const int peer = connection.pair.peer.get();
  WireCapture& wire = *connection.wire;
  auto closer_sent = [&](Phase phase, uint8_t flag) {
    return wire.WaitFor(
        phase,
        [flag](const Segment& s) {
          return s.direction == Direction::kToPeer && s.has(flag);
        },
        kDeadline);
  };

  if (c.ending == Ending::kRst) {
    ASSERT_EQ(::send(peer, "0123456789", 10, 0), 10);
    absl::Status queued = WaitForReceiveQueue(closer, 10, kDeadline);
    ASSERT_THAT(queued, IsOk());
  }
  ASSERT_THAT(wire.Sync(Phase::kSetup, kDeadline), IsOk());
  absl::StatusOr<MibSnapshot> before = ReadTcpMib();
  ASSERT_THAT(before, IsOk());
  ::close(connection.pair.closer.release());
  absl::StatusOr<bool> ended =
      closer_sent(Phase::kClose, c.ending == Ending::kRst ? TH_RST : TH_FIN);
  ASSERT_THAT(ended, IsOk());
  ASSERT_TRUE(*ended) << "close() sent neither FIN nor RST";
  // Whether the full socket already holds FIN_WAIT2 (the ACK of the FIN was
  // processed while close() held the lock: fin_wait2_holder.h). close() has
  // returned, so an ACK processed from now on hands over to a timewait
  // mini-socket instead.
  bool full_orphan_before_data = false;
  if (c.ending == Ending::kFinThenRst) {
    // The data waits for the peer's ACK of the FIN (delayed: tcp_fin()
    // enters pingpong mode, 40 ms), so it always finds the closer in
    // FIN_WAIT2. Sent at once, it would carry that ACK to an orphan still in
    // FIN_WAIT1 when the machine is fast and not when it is slow: another
    // socket answers, and two runs' records differ.
    std::optional<DiagSocket> closed;
    absl::Status acked = WaitUntil(
        [&]() -> absl::StatusOr<bool> {
          absl::StatusOr<std::optional<DiagSocket>> found =
              LookupTcpSocket(connection.pair.closer_ends);
          if (!found.ok()) return found.status();
          closed = *found;
          return closed.has_value() && closed->state == TCP_FIN_WAIT2;
        },
        kDeadline, "the closer in FIN_WAIT2 (the peer's ACK of the FIN)");
    ASSERT_THAT(acked, IsOk());
    absl::StatusOr<FinWait2Holding> holding = ClassifyFinWait2Holder(closed, 0);
    ASSERT_THAT(holding, IsOk());
    full_orphan_before_data = holding->full_orphan;
    ASSERT_EQ(::send(peer, "0123456789", 10, MSG_NOSIGNAL), 10);
    ASSERT_THAT(wire.Sync(Phase::kClose, kDeadline), IsOk());
    absl::StatusOr<bool> reset = closer_sent(Phase::kAfter, TH_RST);
    ASSERT_THAT(reset, IsOk());
    ASSERT_TRUE(*reset) << "the data after close drew no RST";
  }
  // The peer's TCP has processed everything the closer sent.
  ASSERT_THAT(wire.Sync(Phase::kAfter, kDeadline), IsOk());
  absl::StatusOr<MibSnapshot> after = ReadTcpMib();
  ASSERT_THAT(after, IsOk());
  MibDelta moved = Subtract(*after, *before);
  const std::string closer_state = CloserStateOnceAcked(connection);

  absl::StatusOr<std::string> polled = PollEvents(peer);
  absl::StatusOr<std::string> epolled = EpollEvents(peer);
  ASSERT_THAT(polled, IsOk());
  ASSERT_THAT(epolled, IsOk());
  std::string seen = absl::StrCat("poll=", *polled, " epoll=", *epolled);
  if (c.order == Order::kRecvFirst) {
    absl::StrAppend(&seen,
                    " recv=", RecvOnce(peer, 64, MSG_DONTWAIT).ToString());
  }
  absl::StatusOr<std::string> error = TakeSocketError(peer);
  ASSERT_THAT(error, IsOk());
  absl::StrAppend(&seen, " so_error=", *error);
  if (c.order == Order::kErrorFirst) {
    absl::StrAppend(&seen,
                    " recv=", RecvOnce(peer, 64, MSG_DONTWAIT).ToString());
  }
  EXPECT_EQ(seen, c.expected)
      << "the peer's calls, in the order it made them, after the closer's "
      << EndingName(c.ending) << "\n"
      << Cite("peer-view.readiness") << "\n"
      << Cite(c.ending == Ending::kFinThenRst ? "peer-view.eof-after-fin"
                                              : "peer-view.error-read-once");
  // The other witnesses of the same ending: the RST of close() with unread
  // data, the FIN of a clean close, the RST for data after a FIN. Which
  // socket answered the data depends on whether the peer's delayed ACK of
  // the FIN left before the data (the closer in FIN_WAIT2, a timewait
  // socket) or rode on it (an orphan in FIN_WAIT1); the wire tells, unless
  // the full socket kept FIN_WAIT2 (sock_diag saw it before the data).
  const bool orphan_answered =
      c.ending == Ending::kFinThenRst &&
      (!FinAckedBeforeData(wire.segments()) || full_orphan_before_data);
  const std::string rule =
      Cite(c.ending == Ending::kRst   ? "unread.sequence-space"
           : c.ending == Ending::kFin ? "unread.fin-is-not-data"
           : orphan_answered          ? "after-close.orphan-abort-on-data"
                                      : "after-close.timewait-rst");
  EXPECT_WITNESS("counters: TCPAbortOnClose", c.ending == Ending::kRst ? 1 : 0,
                 moved["TCPAbortOnClose"], rule);
  EXPECT_WITNESS("counters: TCPAbortOnData", orphan_answered ? 1 : 0,
                 moved["TCPAbortOnData"], rule);
  EXPECT_WITNESS("sock_diag: closer once acked",
                 c.ending == Ending::kFin ? "FIN_WAIT2" : "gone", closer_state,
                 rule);
  if (std::optional<std::vector<ResetEvent>> events =
          PinnedResets(connection)) {
    EXPECT_WITNESS("reset reason",
                   c.ending == Ending::kRst   ? "TCP_ABORT_ON_CLOSE"
                   : c.ending == Ending::kFin ? ""
                   : orphan_answered          ? "TCP_ABORT_ON_DATA"
                                              : "TCP_TIMEWAIT_SOCKET",
                   ResetReasons(*events), rule);
  }
}

std::vector<Case> AllCases() {
  constexpr char kFinPoll[] = "poll=IN,OUT,RDHUP epoll=IN,OUT,RDHUP";
  constexpr char kRstPoll[] =
      "poll=IN,OUT,ERR,HUP,RDHUP epoll=IN,OUT,ERR,HUP,RDHUP";
  std::vector<Case> cases;
  for (Family family : {Family::kV4, Family::kV6}) {
    const std::vector<Case> per_family = {
        {family, Ending::kFin, Order::kRecvFirst, "recv=EOF so_error=0"},
        {family, Ending::kFin, Order::kErrorFirst, "so_error=0 recv=EOF"},
        {family, Ending::kRst, Order::kRecvFirst, "recv=ECONNRESET so_error=0"},
        {family, Ending::kRst, Order::kErrorFirst,
         "so_error=ECONNRESET recv=EOF"},
        {family, Ending::kFinThenRst, Order::kRecvFirst,
         "recv=EOF so_error=EPIPE"},
        {family, Ending::kFinThenRst, Order::kErrorFirst,
         "so_error=EPIPE recv=EOF"},
    };
    for (Case c : per_family) {
      c.expected = absl::StrCat(c.ending == Ending::kFin ? kFinPoll : kRstPoll,
                                " ", c.expected);
      cases.push_back(c);
    }
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(PeerView, PeerViewTest,
                         ::testing::ValuesIn(AllCases()), CaseNamer());

}  // namespace
}  // namespace tcpsem
