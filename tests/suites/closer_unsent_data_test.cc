// The closing side's own unsent data (issue 6, scenario 9): close() and
// shutdown(SHUT_WR) while the closer's send queue still holds data that has
// not left, with and without unread data at the closer.
//
// Three ways to hold the data back:
//  - InFlightAndCwndHeld: an initial cwnd of 1 (the route's RTAX_INITCWND,
//    tcp_init_cwnd()) and a peer that delays its ACK (TCP_QUICKACK 0: pingpong
//    mode, TCP_DELACK_MIN 40 ms): of 3 segments written, one is in flight and
//    unacknowledged, two wait for cwnd (tcp_cwnd_test() in tcp_write_xmit()).
//    Measured right before close(). lo holds the in-flight segment
//    (LoopbackHold: a tbf qdisc that spent its bucket) until the orphan is
//    listed, so the peer's delayed ACK cannot come first however slow the
//    machine; the route's RTAX_RTO_MIN (10 s) keeps the closer from
//    retransmitting it meanwhile.
//  - ZeroWindowHeld: the peer never reads; the closer writes until its data
//    cannot leave (tcp_snd_wnd_test()): everything sent is acknowledged, the
//    rest is held by the peer's zero window.
//  - BeyondShrunkWindow: with net.ipv4.tcp_shrink_window = 1 the peer, out of
//    receive memory, drops the closer's next segments (tcp_data_queue() ->
//    tcp_try_rmem_schedule() fails, TCPRcvQDrop) and advertises a zero window
//    it is now allowed to shrink to (tcp_select_window()): the closer's snd_nxt
//    lies beyond the window's end, the case tcp_acceptable_seq() exists for.
//
// What is pinned: with nothing unread, neither shutdown() nor close() emits
// anything: tcp_send_fin() sets FIN on the tail of the unsent queue (or queues
// a FIN-only skb) and the FIN leaves with the last data byte once cwnd or the
// window lets it (FIN seq = ISN + 1 + bytes written); the closer stays an
// orphan in FIN_WAIT1 that holds the data, and the peer reads all of it, then
// EOF. With unread data, close() resets (__tcp_close(): RFC 2525 2.17,
// TCPAbortOnClose, reason TCP_ABORT_ON_CLOSE); tcp_send_active_reset() stamps
// tcp_acceptable_seq(): snd_nxt, or the window's end when snd_nxt lies beyond
// it; the socket is destroyed at once (inet_csk_destroy_sock() ->
// tcp_v4_destroy_sock() -> tcp_write_queue_purge()), so the unsent data never
// leaves, and the peer reads exactly the bytes that left before, then
// ECONNRESET (tcp_reset()).
#include <sys/socket.h>

#include <algorithm>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "fixtures/rules/scenario_rules.h"
#include "fixtures/staging/recv_once.h"
#include "fixtures/witnesses/mib_counters.h"
#include "fixtures/witnesses/reset_reason.h"
#include "fixtures/witnesses/segment.h"
#include "fixtures/witnesses/sock_diag.h"
#include "fixtures/witnesses/tcp_state.h"
#include "fixtures/witnesses/wire_capture.h"
#include "gtest/gtest.h"
#include "tests/harness/case_name.h"
#include "tests/harness/deadline.h"
#include "tests/harness/expect_witness.h"
#include "tests/harness/status_matchers.h"
#include "tests/harness/witness_registry.h"
#include "tests/suites/closer_unsent_data_fixture.h"

namespace tcpsem::closer_unsent_data {
namespace {

// The closer's sequence numbers at close(), relative to its ISN.
struct Sequence {
  uint32_t fin = 0;      // the FIN's: 1 + every byte written
  uint32_t snd_nxt = 0;  // at close()
  uint32_t snd_una = 0;  // at close()
};

class CloserUnsentDataTest : public CloserUnsentDataFixture,
                             public ::testing::WithParamInterface<Case> {
 protected:
  static Sequence SequenceAtClose(const Case& c, const Attempt& a) {
    const int fin_queued = c.shutdown_first ? 1 : 0;
    return {
        .fin = 1 + static_cast<uint32_t>(a.written),
        .snd_nxt = 1 + static_cast<uint32_t>(a.written -
                                             (a.at_close.notsent - fin_queued)),
        .snd_una = 1 + static_cast<uint32_t>(a.written -
                                             (a.at_close.outq - fin_queued)),
    };
  }

  // shutdown(): tcp_shutdown() -> tcp_close_state() -> tcp_send_fin(): the
  // FIN is set on the unsent tail skb (or a FIN-only skb is queued) and
  // pushed with the rest (__tcp_push_pending_frames()), so it waits too:
  // SIOCOUTQNSD grows by the FIN's one sequence number.
  void ExpectShutdownQueuedTheFin(const Attempt& a, const std::string& rule) {
    EXPECT_WITNESS("wire: shutdown() emits", "-",
                   a.connection.wire->CloserEmitted(Phase::kShutdown), rule);
    EXPECT_WITNESS("TCP_INFO: closer state after shutdown()", "FIN_WAIT1",
                   TcpStateName(a.at_close.state), rule);
    EXPECT_WITNESS("SIOCOUTQNSD: growth at shutdown() (the queued FIN)", 1,
                   a.at_close.notsent - a.before.notsent, rule);
    EXPECT_WITNESS("SIOCOUTQ: growth at shutdown()", 1,
                   a.at_close.outq - a.before.outq, rule);
  }

  // __tcp_close(): unread data -> TCPAbortOnClose, tcp_set_state(CLOSE),
  // tcp_send_active_reset() (RFC 2525 2.17), whatever the send queue holds.
  void ExpectCloseResets(const Case& c, const Attempt& a,
                         const std::string& rule) {
    EXPECT_WITNESS("wire: close() emits", "RST",
                   a.connection.wire->CloserEmitted(Phase::kClose), rule);
    // EstabResets: tcp_set_state() counts ESTABLISHED/CLOSE_WAIT -> CLOSE,
    // the peer's on the RST (tcp_reset() -> tcp_done()) and the closer's own
    // unless shutdown() had moved it to FIN_WAIT1 already.
    EXPECT_WITNESS("counters: at close()",
                   c.shutdown_first
                       ? "EstabResets+1 OutRsts+1 TCPAbortOnClose+1"
                       : "EstabResets+2 OutRsts+1 TCPAbortOnClose+1",
                   TeardownDeltaToString(a.mib_closed, a.mib_before), rule);
    // inet_csk_destroy_sock() in __tcp_close(): nothing is left to send the
    // held data later (tcp_v4_destroy_sock() -> tcp_write_queue_purge()).
    EXPECT_WITNESS("sock_diag: closer after close()", "gone",
                   a.left.empty() ? "gone" : a.left.front().ToString(), rule);
  }

  // __tcp_close() without unread data: tcp_close_state() -> tcp_send_fin()
  // (close) or nothing more (FIN_WAIT1 stays, shutdown() queued the FIN).
  // Either way nothing leaves: the FIN waits on the held data's tail, and
  // the orphan holds the data and the FIN.
  void ExpectOrphanHoldsDataAndFin(const Case& c, const Attempt& a,
                                   const std::string& rule) {
    EXPECT_WITNESS("counters: at close()", "-",
                   TeardownDeltaToString(a.mib_closed, a.mib_before), rule);
    if (c.held == Held::kZeroWindow) {
      EXPECT_WITNESS("wire: close() emits (data held by a zero window)", "-",
                     a.connection.wire->CloserEmitted(Phase::kClose), rule);
    }
    ASSERT_EQ(a.left.size(), 1u) << "the closer should remain as an orphan";
    const DiagSocket& orphan = a.left.front();
    RecordProperty("orphan", orphan.ToString());
    EXPECT_WITNESS("sock_diag: orphan state", "FIN_WAIT1",
                   TcpStateName(orphan.state), rule);
    EXPECT_WITNESS("sock_diag: orphaned", true, orphan.orphan(), rule);
    // idiag_wqueue is write_seq - snd_una (inet_diag's tcp_diag_get_info()):
    // every unacknowledged byte + the FIN.
    const int fin_queued = c.shutdown_first ? 1 : 0;
    EXPECT_WITNESS_RELATION("sock_diag: orphan wqueue (unacked bytes + FIN)",
                            a.at_close.outq + 1 - fin_queued, orphan.wqueue,
                            rule);
    // The cwnd-held orphan waits on its retransmit timer (packets in
    // flight); the zero-window one on the zero-window probe timer
    // (tcp_check_probe_timer()).
    EXPECT_WITNESS("sock_diag: orphan timer",
                   c.held == Held::kZeroWindow ? "probe0" : "retransmit",
                   orphan.TimerName(), rule);
  }

  // No new data left the closer at shutdown()/close(): nothing beyond its
  // snd_nxt at close() (the shrunk-window case may retransmit its head on
  // RTO, tcp_retransmit_timer()'s "receiver dastardly shrinks window").
  void ExpectNoNewDataAtClose(const Attempt& a, const Sequence& seq,
                              const std::string& rule) {
    const std::vector<Segment>& segments = a.connection.wire->segments();
    const std::vector<RelativeSeq> rel = Relativize(segments);
    for (size_t i = a.mark; i < segments.size(); ++i) {
      const Segment& s = segments[i];
      if (s.direction != Direction::kToPeer || s.phase == Phase::kAfter) {
        continue;
      }
      EXPECT_LE(rel[i].seq + s.length, seq.snd_nxt)
          << "closer sent new data at " << PhaseName(s.phase) << ": seq "
          << rel[i].seq << " len " << s.length << rule;
    }
  }

  // The RST's sequence number: tcp_send_active_reset() ->
  // tcp_acceptable_seq(): snd_nxt unless that lies beyond the window's end
  // (snd_una + snd_wnd), then the window's end. Nothing follows the RST:
  // the held data (and a queued FIN) never leave.
  void ExpectRstSeqAndNothingAfter(const Case& c, const Attempt& a,
                                   const Sequence& seq,
                                   const std::string& rule) {
    const std::string seq_rule = Cite("unsent.rst-seq-acceptable");
    const std::vector<Segment>& segments = a.connection.wire->segments();
    const std::vector<RelativeSeq> rel = Relativize(segments);
    std::vector<size_t> resets;
    for (size_t i = 0; i < segments.size(); ++i) {
      if (segments[i].direction == Direction::kToPeer &&
          segments[i].has(TH_RST)) {
        resets.push_back(i);
      }
    }
    ASSERT_EQ(resets.size(), 1u) << "expected exactly one RST from the closer";
    const uint32_t rst_seq = rel[resets.front()].seq;
    RecordProperty("rst_seq", static_cast<int>(rst_seq));
    if (c.held == Held::kBeyondShrunkWindow) {
      // snd_nxt is past snd_una + 0 by the dropped segments: the window end,
      // which is snd_una (and the peer's rcv_nxt, so tcp_validate_incoming()
      // takes it: RFC 5961 3.2's exact match).
      EXPECT_WITNESS_RELATION(
          "wire: RST seq = snd_una", seq.snd_una, rst_seq,
          absl::StrCat(seq_rule, "\n  (snd_nxt ", seq.snd_nxt, ")"));
      EXPECT_LT(rst_seq, seq.snd_nxt) << seq_rule;
    } else {
      // snd_nxt is inside the window (cwnd case: far inside; zero window:
      // exactly at its end, snd_una == snd_nxt): snd_nxt.
      EXPECT_WITNESS_RELATION(
          "wire: RST seq = snd_nxt", seq.snd_nxt, rst_seq,
          absl::StrCat(seq_rule, "\n  (snd_una ", seq.snd_una, ")"));
      if (c.held == Held::kZeroWindow) {
        EXPECT_WITNESS("wire: snd_nxt - snd_una at close()", 0,
                       seq.snd_nxt - seq.snd_una, seq_rule);
      }
      if (c.held == Held::kInFlightAndCwnd) {
        EXPECT_WITNESS_RELATION("wire: snd_nxt - snd_una at close() (one MSS)",
                                a.mss, seq.snd_nxt - seq.snd_una, seq_rule);
      }
    }
    uint32_t highest = 0;
    int after_rst = 0;
    int fins = 0;
    for (size_t i = 0; i < segments.size(); ++i) {
      const Segment& s = segments[i];
      if (s.direction != Direction::kToPeer) continue;
      if (i > resets.front()) {
        ++after_rst;
        std::cout << "after the RST: " << FlagNames(s.flags) << " len "
                  << s.length << " seq " << rel[i].seq << "\n";
      }
      if (s.length > 0) highest = std::max(highest, rel[i].seq + s.length);
      if (s.has(TH_FIN)) ++fins;
    }
    EXPECT_WITNESS("wire: closer segments after its RST", 0, after_rst, rule);
    EXPECT_WITNESS("wire: closer FINs", 0, fins, rule);
    // The highest byte on the wire is snd_nxt: the rest was never sent.
    EXPECT_WITNESS_RELATION("wire: highest byte sent", seq.snd_nxt, highest,
                            rule);
  }

  // The peer reads what left before the RST, then ECONNRESET (tcp_reset();
  // tcp_recvmsg() returns queued data before sk_err).
  void ExpectPeerReadsThenReset(const Case& c, const Attempt& a,
                                const Sequence& seq, const std::string& rule) {
    const int peer = a.connection.pair.peer.get();
    const int64_t sent_before_rst = static_cast<int64_t>(
        (c.held == Held::kBeyondShrunkWindow ? seq.snd_una : seq.snd_nxt) - 1);
    int64_t received = 0;
    RecvResult last;
    while ((last = RecvOnce(peer, 256 * 1024, MSG_DONTWAIT)).n > 0) {
      received += last.n;
    }
    EXPECT_WITNESS_RELATION(
        "peer: bytes read before the RST", sent_before_rst, received,
        absl::StrCat(rule, "\n  (", a.written, " bytes written)"));
    EXPECT_WITNESS("peer: recv() after the data", "ECONNRESET", last.ToString(),
                   rule);
    absl::StatusOr<int> peer_state = TcpState(peer);
    ASSERT_THAT(peer_state, IsOk());
    EXPECT_WITNESS("TCP_INFO: peer state", "CLOSE", TcpStateName(*peer_state),
                   rule);
  }

  // The peer reads everything: its window opens (tcp_cleanup_rbuf() ->
  // window update), or its delayed ACK opens cwnd (tcp_cong_avoid()), and
  // the orphan sends the data and the FIN on the last byte.
  void ExpectFinRidesOnLastData(const Case& c, Attempt& a, const Sequence& seq,
                                const std::string& rule) {
    const int peer = a.connection.pair.peer.get();
    WireCapture& wire = *a.connection.wire;
    int64_t received = 0;
    bool eof = false;
    absl::Status read = WaitUntil(
        [&]() -> absl::StatusOr<bool> {
          absl::StatusOr<Drained> now = DrainReceiveQueue(peer);
          if (!now.ok()) return now.status();
          received += static_cast<int64_t>(now->bytes);
          eof = now->eof;
          return eof;
        },
        kDeadline, "the peer to read everything up to EOF", peer, POLLIN);
    ASSERT_THAT(wire.Sync(Phase::kAfter, kDeadline), IsOk());
    EXPECT_THAT(read, IsOk()) << " (" << received << " bytes read)" << rule;
    EXPECT_WITNESS("peer: recv() after the data", "EOF", eof ? "EOF" : "-",
                   rule);
    EXPECT_WITNESS_RELATION("peer: bytes read (every byte written)", a.written,
                            received, rule);
    const std::vector<Segment>& segments = wire.segments();
    const std::vector<RelativeSeq> rel = Relativize(segments);
    std::vector<size_t> fins;
    size_t last_data = 0;  // the last segment that sent new data
    uint32_t sent_up_to = 0;
    int resets = 0;
    for (size_t i = 0; i < segments.size(); ++i) {
      const Segment& s = segments[i];
      if (s.direction != Direction::kToPeer) continue;
      if (s.has(TH_RST)) ++resets;
      if (s.has(TH_FIN)) fins.push_back(i);
      // A retransmission sends nothing new: on a loaded machine the tail
      // loss probe (tcp_send_loss_probe()) may resend the last segment,
      // FIN and all, before the peer's ACK arrives.
      if (s.length > 0 && rel[i].seq + s.length > sent_up_to) {
        last_data = i;
        sent_up_to = rel[i].seq + s.length;
      }
    }
    EXPECT_WITNESS("wire: closer RSTs", 0, resets, rule);
    ASSERT_FALSE(fins.empty()) << "the FIN never left";
    const size_t fin = fins.front();
    // The FIN's sequence number is ISN + 1 + bytes written: after the last
    // data byte (tcp_send_fin() set it on the tail; tso_fragment() keeps it
    // on the last piece), carried by the segment with the last data, not
    // sent alone, and never ahead of the data.
    EXPECT_WITNESS_RELATION("wire: FIN's sequence number", seq.fin,
                            rel[fin].seq + segments[fin].length, rule);
    EXPECT_WITNESS("wire: the FIN's segment carries data", true,
                   segments[fin].length > 0, rule);
    EXPECT_WITNESS("wire: no data after the FIN's segment", true,
                   last_data == fin, rule);
    if (c.held == Held::kZeroWindow) {
      // Only the peer's reading (in the after phase) opens the window.
      EXPECT_WITNESS("wire: phase the FIN left in", PhaseName(Phase::kAfter),
                     PhaseName(segments[fin].phase), rule);
      return;
    }
    // Causal order: after close() the closer sent nothing until the peer's
    // delayed ACK of the in-flight segment opened cwnd.
    std::optional<size_t> ack;
    for (size_t i = a.mark; i < segments.size(); ++i) {
      if (segments[i].direction == Direction::kToCloser &&
          segments[i].has(TH_ACK) && rel[i].ack > seq.snd_una) {
        ack = i;
        break;
      }
    }
    ASSERT_TRUE(ack.has_value()) << "no ACK of the in-flight segment";
    for (size_t i = a.mark; i < *ack; ++i) {
      EXPECT_NE(segments[i].direction, Direction::kToPeer)
          << "closer sent " << FlagNames(segments[i].flags) << " seq "
          << rel[i].seq << " before the peer's ACK opened cwnd" << rule;
    }
  }

  // __tcp_close(): SK_RST_REASON_TCP_ABORT_ON_CLOSE for the one RST; and
  // nothing more was reset or aborted after close().
  void ExpectResetReasonsAndQuiet(bool rst, const Attempt& a,
                                  const std::string& rule) {
    if (std::optional<std::vector<ResetEvent>> events =
            PinnedResets(a.connection)) {
      EXPECT_WITNESS("reset reason", rst ? "TCP_ABORT_ON_CLOSE" : "",
                     ResetReasons(*events), rule);
    }
    absl::StatusOr<MibSnapshot> end = ReadTcpMib();
    ASSERT_THAT(end, IsOk());
    EXPECT_WITNESS("counters: after close()", "-",
                   TeardownDeltaToString(*end, a.mib_closed), rule);
  }

 public:
  // Stages `c`, then checks every witness against the rules. Returns the
  // attempt that held (null when the test was skipped or failed to stage).
  std::unique_ptr<Attempt> RunCase(const Case& c) {
    PrepareNamespace(c);
    if (IsSkipped() || HasFatalFailure()) return nullptr;
    std::unique_ptr<Attempt> attempt;
    StageWithRetries(c, attempt);
    if (IsSkipped() || HasFatalFailure()) return nullptr;
    if (attempt == nullptr) {
      ADD_FAILURE() << "no attempt staged";
      return nullptr;
    }
    Attempt& a = *attempt;
    const Sequence seq = SequenceAtClose(c, a);
    std::cout << CaseName(c) << ": before " << a.before.ToString()
              << "; at close " << a.at_close.ToString() << "; written "
              << a.written << "\n";
    RecordProperty("at_close", a.at_close.ToString());
    if (c.held == Held::kInFlightAndCwnd) {
      RecordProperty("held_on_lo_us",
                     static_cast<int>(absl::ToInt64Microseconds(a.held_for)));
    }
    const std::string rule = Cite(c.unread ? "unsent.unread-rst-discards"
                                           : "unsent.fin-waits-behind-data");

    if (c.shutdown_first) ExpectShutdownQueuedTheFin(a, rule);
    if (c.unread) {
      ExpectCloseResets(c, a, rule);
      ExpectNoNewDataAtClose(a, seq, rule);
      ExpectRstSeqAndNothingAfter(c, a, seq, rule);
      ExpectPeerReadsThenReset(c, a, seq, rule);
    } else {
      ExpectOrphanHoldsDataAndFin(c, a, rule);
      // The cwnd case is judged by the ACK's order instead (below).
      if (c.held != Held::kInFlightAndCwnd) {
        ExpectNoNewDataAtClose(a, seq, rule);
      }
      ExpectFinRidesOnLastData(c, a, seq, rule);
    }
    ExpectResetReasonsAndQuiet(c.unread, a, rule);
    return attempt;
  }
};
TCPSEM_DECLARE_WITNESSES(CloserUnsentDataTest,
                         {{Witness::kWire, kAsked},
                          {Witness::kPeerApi, kAsked},
                          {Witness::kCounters, kAsked},
                          {Witness::kSockDiag, kAsked},
                          {Witness::kResetReason, kAsked}});

TEST_P(CloserUnsentDataTest, WhereTheFinLeavesAndWhatTheRstCarries) {
  RunCase(GetParam());
}

std::vector<Case> AllCases() {
  std::vector<Case> cases;
  for (Family family : {Family::kV4, Family::kV6}) {
    for (Held held : {Held::kInFlightAndCwnd, Held::kZeroWindow}) {
      for (bool unread : {false, true}) {
        for (bool shutdown_first : {false, true}) {
          cases.push_back({family, held, unread, shutdown_first});
        }
      }
    }
    // Only the RST's sequence number is at stake beyond a shrunk window.
    for (bool shutdown_first : {false, true}) {
      cases.push_back(
          {family, Held::kBeyondShrunkWindow, true, shutdown_first});
    }
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(CloserUnsentData, CloserUnsentDataTest,
                         ::testing::ValuesIn(AllCases()), CaseNamer());

// The in-flight staging does not depend on the machine's speed: the same
// cases with the staging thread stalled, between its measurement and
// close(), longer than the peer's delayed ACK (40 ms) and the default floor
// of the retransmission timeout (TCP_RTO_MIN, 200 ms), as a TCG guest's
// preempted vCPU would. Every witness must read as without the stall.
class CloserUnsentDataStallTest : public CloserUnsentDataTest {
 protected:
  static constexpr absl::Duration kStall = absl::Milliseconds(300);
  void SetUp() override {
    CloserUnsentDataTest::SetUp();
    stall_in_window_ = kStall;
  }
};
TCPSEM_DECLARE_WITNESSES(CloserUnsentDataStallTest,
                         {{Witness::kWire, kAsked},
                          {Witness::kPeerApi, kAsked},
                          {Witness::kCounters, kAsked},
                          {Witness::kSockDiag, kAsked},
                          {Witness::kResetReason, kAsked}});

TEST_P(CloserUnsentDataStallTest, HoldOutlastsTheDelayedAckAndTheRto) {
  std::unique_ptr<Attempt> attempt = RunCase(GetParam());
  if (attempt == nullptr) return;
  EXPECT_GE(attempt->held_for, kStall)
      << "lo held the in-flight segment for "
      << absl::FormatDuration(attempt->held_for) << " only";
}

std::vector<Case> InFlightCases() {
  std::vector<Case> cases;
  for (const Case& c : AllCases()) {
    if (c.held == Held::kInFlightAndCwnd) cases.push_back(c);
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(CloserUnsentDataStall, CloserUnsentDataStallTest,
                         ::testing::ValuesIn(InFlightCases()), CaseNamer());

}  // namespace
}  // namespace tcpsem::closer_unsent_data
