// PeerFinFullWindow, case 3: the peer's FIN against the closing side's
// receive memory rather than its window (the scenario and its sources are
// told in peer_fin_full_window_test.cc; the cases and the fixture in
// peer_fin_full_window_fixture.h).
#include <sys/socket.h>

#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "fixtures/base/errno_status.h"
#include "fixtures/base/kernel_version.h"
#include "fixtures/base/wait_until.h"
#include "fixtures/config/run_profile.h"
#include "fixtures/rules/scenario_rules.h"
#include "fixtures/staging/recv_once.h"
#include "fixtures/witnesses/mib_counters.h"
#include "fixtures/witnesses/tcp_state.h"
#include "fixtures/witnesses/wire_capture.h"
#include "gtest/gtest.h"
#include "tests/harness/case_name.h"
#include "tests/harness/deadline.h"
#include "tests/harness/expect_witness.h"
#include "tests/harness/status_matchers.h"
#include "tests/harness/witness_registry.h"
#include "tests/suites/peer_fin_full_window_fixture.h"

namespace tcpsem::peer_fin_full_window {

// Case 3. 1-byte segments (TCP_NODELAY, each sent once the previous one
// arrived) into a small SO_RCVBUF: each costs a whole skb's truesize until
// tcp_try_coalesce() or tcp_collapse() compacts them. Either the buffer
// overflows while the window is still open: tcp_try_rmem_schedule() ->
// tcp_prune_queue() collapses, still over sk_rcvbuf (RcvPruned), and
// tcp_data_queue() drops the segment (TCPRcvQDrop); the FIN queues behind
// the dropped byte, which the now zero window holds back. Or collapsing
// keeps up and the window closes first, leaving the FIN alone at the
// window's edge. Either way the FIN never reaches the wire.
void PeerFinFullWindowTest::ReceiveBufferPressure() {
  const std::string rule = Cite("peer-fin.memory-pressure");
  OpenPair(GetParam().family, kSmallReceiveBuffer);
  if (IsSkipped() || HasFatalFailure()) return;
  const int one = 1;
  ASSERT_EQ(::setsockopt(peer_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)),
            0);
  ASSERT_THAT(wire().Sync(Phase::kSetup, kDeadline), IsOk());
  absl::StatusOr<MibSnapshot> before = ReadTcpMib();
  ASSERT_THAT(before, IsOk());
  TinySegments pressure;
  SendTinySegmentsUntilPressure(*before, pressure);
  if (HasFatalFailure()) return;
  const int sent = pressure.sent;
  const bool dropped = pressure.dropped;
  absl::StatusOr<MibSnapshot> staged = ReadTcpMib();
  ASSERT_THAT(staged, IsOk());
  const MibDelta moved = Subtract(*staged, *before);
  absl::StatusOr<int> inq = BytesInReceiveQueue(closer_);
  ASSERT_THAT(inq, IsOk());
  RecordProperty("tiny_segments_sent", absl::StrCat(sent));
  RecordProperty("bytes_queued_at_closer", absl::StrCat(*inq));
  RecordProperty("counters_staging", MemoryCounters(moved));
  RecordProperty("pressure_ending",
                 dropped ? "segment dropped for memory" : "window closed");
  std::cout << "1-byte segments: " << sent << " sent, " << *inq << " queued, "
            << (dropped ? "one dropped" : "window closed first") << "; "
            << MemoryCounters(moved) << "\n";
  // Which ending comes first is a race, on every kernel measured: it
  // depends on whether each tiny skb could be coalesced into the queue's
  // tail (tcp_try_coalesce() fails while the skb is still a clone of one
  // the peer has not freed, i.e. on ACK timing). 6.18.44: mostly a drop
  // (57 of 64 under ctest -j8 + stress-ng, every run when idle); 6.1.192:
  // 4 drops in 80 runs; 6.12.117: drops seen too. So the ending is
  // recorded, and each one's own witnesses are checked.
  if (dropped) {
    // tcp_data_queue(): in sequence, in window (no TCPZeroWindowDrop), but
    // tcp_try_rmem_schedule() failed: tcp_prune_queue() ran (PruneCalled),
    // tcp_collapse() compacted the queue (TCPRcvCollapsed) and it was
    // still over sk_rcvbuf (RcvPruned): the segment is dropped
    // (TCPRcvQDrop).
    ExpectMoved(moved, "TCPRcvQDrop", 1, rule);
    ExpectMovedAtLeast(moved, "RcvPruned", 1, rule);
    EXPECT_WITNESS_RELATION(
        "SIOCINQ: closer holds every byte but the dropped one", sent - 1, *inq,
        rule);
  } else {
    // tcp_prune_queue() -> tcp_collapse() always got the queue back under
    // sk_rcvbuf, and __tcp_select_window() closed the window first
    // (tcp_select_window(): TCPToZeroWindowAdv).
    ExpectMoved(moved, "TCPRcvQDrop", 0, rule);
    ExpectMoved(moved, "RcvPruned", 0, rule);
    ExpectMovedAtLeast(moved, "TCPToZeroWindowAdv", 1, rule);
  }
  // Either way the pressure showed: pruning was needed and collapsing ran.
  ExpectMovedAtLeast(moved, "PruneCalled", 1, rule);
  ExpectMovedAtLeast(moved, "TCPRcvCollapsed", 1, rule);
  // On the kernels of peer-fin.memory-drop-zero-window-ack (see
  // MemoryDropAnswer) the drop is answered at once with a zero
  // window (ICSK_ACK_NOMEM | ICSK_ACK_NOW) acknowledging everything before
  // it; before, it is silent: the window the peer knows stays open, the
  // dropped byte is retransmitted (and dropped again), and the FIN may go
  // out behind the hole, where tcp_data_queue_ofo() holds or drops it.
  const KernelAnswer path = MemoryDropAnswer();
  const bool pinned = !dropped || path != KernelAnswer::kNotMeasured;
  const bool silent_drop = dropped && path == KernelAnswer::kOld;
  if (pinned && !silent_drop) {
    // The peer knows the zero window, and every byte the closing side
    // queued is acknowledged (SIOCOUTQ: what is left is held back, or
    // the dropped byte).
    absl::Status settled = WaitUntil(
        [&]() -> absl::StatusOr<bool> {
          absl::StatusOr<uint32_t> w = PeerAdvertisedWindow(peer_);
          absl::StatusOr<int> outq = BytesInSendQueue(peer_);
          absl::StatusOr<int> queued = BytesInReceiveQueue(closer_);
          if (!w.ok() || !outq.ok() || !queued.ok()) {
            return absl::InternalError("cannot read the queues");
          }
          return *w == 0 && *queued + *outq == sent;
        },
        kDeadline, "the zero window known and everything queued acked");
    EXPECT_THAT(settled, IsOk())
        << rule
        << (dropped ? Cite("peer-fin.memory-drop-zero-window-ack") : "");
  }
  absl::StatusOr<int> outq_before = BytesInSendQueue(peer_);
  ASSERT_THAT(outq_before, IsOk());
  RecordProperty("peer_unacked_before_shutdown", absl::StrCat(*outq_before));

  ASSERT_EQ(::shutdown(peer_, SHUT_WR), 0) << ErrnoStatus("shutdown");
  ASSERT_THAT(wire().Sync(Phase::kShutdown, kDeadline), IsOk());
  // tcp_send_fin(): the FIN's sequence number joins the send queue (on
  // the unsent tail skb or as a skb of its own).
  absl::StatusOr<int> outq = BytesInSendQueue(peer_);
  ASSERT_THAT(outq, IsOk());
  const std::vector<PeerFin> fins = PeerFins();
  RecordProperty("fin_on_wire", fins.empty() ? "no" : "yes");
  RecordProperty("peer_unacked_after_shutdown", absl::StrCat(*outq));
  if (!pinned) {
    RecordProperty("fin_after_drop",
                   absl::StrCat("not pinned on ", RunningKernelDescription(),
                                " (no rule's kernels): FIN on the wire: ",
                                fins.empty() ? "no" : "yes"));
  } else if (silent_drop) {
    // If the window let it out, the FIN lands behind the hole and draws a
    // duplicate ACK (tcp_data_queue_ofo()) up to the dropped byte: the
    // peer then holds just that byte and the FIN.
    for (const PeerFin& fin : fins) {
      EXPECT_WITNESS_RELATION(
          "wire: the peer's FIN's relative seq (behind the "
          "dropped byte)",
          sent + 1, fin.seq, Cite("peer-fin.memory-drop-silent"));
    }
    EXPECT_WITNESS_AT_LEAST("SIOCOUTQ: peer (the dropped byte and the FIN)", 2,
                            *outq, Cite("peer-fin.memory-drop-silent"));
  } else {
    // Past tcp_wnd_end(): tcp_snd_wnd_test() holds it.
    EXPECT_WITNESS("wire: peer FINs captured", 0, fins.size(), rule);
    EXPECT_WITNESS("SIOCOUTQ: peer's growth at SHUT_WR (the FIN)", 1,
                   *outq - *outq_before, rule);
  }
  // Wherever the FIN is, the closing side never processed it.
  CloseUnreadExpectReset("ESTABLISHED", "FIN_WAIT1");
}

// Case 3, the FIN itself under pressure: the closing side holds
// kOvercommitBytes when its SO_RCVBUF is cut to kSmallReceiveBuffer, so
// every segment fails tcp_try_rmem_schedule() (tcp_prune_queue(): collapse
// cannot bring it under sk_rcvbuf, RcvPruned). The window is still open
// (it never shrinks), so the peer's FIN goes out at once, as a bare FIN.
void PeerFinFullWindowTest::BareFinIntoOvercommittedQueue() {
  const std::string rule = Cite("peer-fin.bare-fin-under-pressure");
  RequireDefaultBuffers();
  if (IsSkipped()) return;
  OpenPair(GetParam().family, 0);
  if (IsSkipped() || HasFatalFailure()) return;
  OvercommitClosersQueue();
  if (HasFatalFailure()) return;
  ASSERT_THAT(wire().Sync(Phase::kSetup, kDeadline), IsOk());
  absl::StatusOr<MibSnapshot> before = ReadTcpMib();
  ASSERT_THAT(before, IsOk());

  ASSERT_EQ(::shutdown(peer_, SHUT_WR), 0) << ErrnoStatus("shutdown");
  const KernelAnswer path = BareFinAnswer();
  bool accepted = path == KernelAnswer::kNew;
  if (path == KernelAnswer::kNotMeasured) {
    // Not measured here: whichever of the two answers comes is recorded.
    absl::Status answered = WaitUntil(
        [&]() -> absl::StatusOr<bool> {
          absl::Status drained = wire().Drain(Phase::kShutdown);
          if (!drained.ok()) return drained;
          return TcpStateNameOf(closer_) == "CLOSE_WAIT" ||
                 PeerFins().size() >= 2;
        },
        kDeadline, "the bare FIN accepted, or sent a second time");
    ASSERT_THAT(answered, IsOk());
    accepted = TcpStateNameOf(closer_) == "CLOSE_WAIT";
    RecordProperty("bare_fin",
                   absl::StrCat("not pinned on ", RunningKernelDescription(),
                                ": ", accepted ? "accepted" : "dropped"));
  }
  if (accepted) {
    // tcp_data_queue(): the FIN has no payload, so the failed
    // tcp_try_rmem_schedule() does not drop it: sk_forced_mem_schedule(),
    // queued (tcp_try_coalesce() merges it into the tail skb), tcp_fin().
    absl::Status settled = WaitUntil(
        [&]() -> absl::StatusOr<bool> {
          return TcpStateNameOf(closer_) == "CLOSE_WAIT" &&
                 TcpStateNameOf(peer_) == "FIN_WAIT2";
        },
        kDeadline, "the bare FIN accepted and acknowledged");
    ASSERT_THAT(settled, IsOk()) << ": closer " << TcpStateNameOf(closer_)
                                 << ", peer " << TcpStateNameOf(peer_) << rule;
  } else {
    // Older tcp_data_queue() (`if (skb_queue_len(&sk->sk_receive_queue)
    // == 0) sk_forced_mem_schedule(); else if (tcp_try_rmem_schedule())
    // drop`): the FIN is dropped like data (TCPRcvQDrop) and never
    // acknowledged; the peer retransmits it (RTO) and it is dropped again.
    absl::Status twice = WaitUntil(
        [&]() -> absl::StatusOr<bool> {
          absl::Status drained = wire().Drain(Phase::kShutdown);
          if (!drained.ok()) return drained;
          return PeerFins().size() >= 2;
        },
        kDeadline, "the peer's FIN sent a second time");
    ASSERT_THAT(twice, IsOk()) << Cite("peer-fin.bare-fin-dropped");
  }
  ASSERT_THAT(wire().Sync(Phase::kShutdown, kDeadline), IsOk());
  absl::StatusOr<MibSnapshot> after = ReadTcpMib();
  ASSERT_THAT(after, IsOk());
  const MibDelta moved = Subtract(*after, *before);
  RecordProperty("counters_after_shutdown", MemoryCounters(moved));
  std::cout << "bare FIN into an overcommitted queue: "
            << (accepted ? "accepted" : "dropped") << "; "
            << MemoryCounters(moved) << "\n";
  const std::vector<PeerFin> fins = PeerFins();
  RecordProperty("peer_fins_sent", absl::StrCat(fins.size()));
  for (const PeerFin& fin : fins) {
    EXPECT_WITNESS("wire: the peer's FIN's relative seq", 1 + kOvercommitBytes,
                   fin.seq, rule);
    EXPECT_WITNESS("wire: the FIN's payload (a bare FIN)", 0, fin.payload,
                   rule);
  }
  ExpectMovedAtLeast(moved, "PruneCalled", 1, rule);
  ExpectMovedAtLeast(moved, "RcvPruned", 1, rule);
  ExpectMoved(moved, "TCPZeroWindowDrop", 0, rule);  // the FIN was in window
  if (accepted) {
    EXPECT_WITNESS("wire: peer FINs (one, acknowledged at once)", 1,
                   fins.size(), rule);
    ExpectMoved(moved, "TCPRcvQDrop", 0, rule);
    CloseUnreadExpectReset("CLOSE_WAIT", "FIN_WAIT2");
  } else {
    ExpectMovedAtLeast(moved, "TCPRcvQDrop", 2, rule);
    CloseUnreadExpectReset("ESTABLISHED", "FIN_WAIT1");
  }
}

}  // namespace tcpsem::peer_fin_full_window
