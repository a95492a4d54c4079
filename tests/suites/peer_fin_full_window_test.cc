// The peer's FIN against a full window (issue 6, scenario 10): the peer
// half-closes (shutdown(SHUT_WR)) while the closing side's receive window is
// zero, or its receive buffer is overcommitted. Is the FIN sent, is it
// accepted, which state does each side reach, and what does the closing
// side's close() then send?
//
// A FIN occupies one sequence number (RFC 9293 3.4, RFC 793 3.3), so it is
// subject to the send window like a byte of data (RFC 9293 3.8.6, 3.10.7.4:
// a segment is acceptable only if it starts within RCV.WND, and a zero
// window accepts nothing but a zero-length segment at RCV.NXT). Linux:
// tcp_send_fin() (net/ipv4/tcp_output.c) sets the FIN on the unsent tail skb
// if there is one, else queues a skb of its own (write_seq + 1 either way),
// and tcp_write_xmit() sends a skb only when tcp_snd_wnd_test() finds its
// end_seq within tcp_wnd_end(): with the window full the FIN waits in the
// peer's send queue, the
// peer is in FIN_WAIT1 (tcp_close_state() at shutdown) and the closing side,
// which never saw the FIN, stays ESTABLISHED. The persist timer's probes
// (tcp_write_wakeup() -> tcp_xmit_probe_skb(), seq snd_una - 1) never carry
// it. On the receiving side, tcp_data_queue() (net/ipv4/tcp_input.c) queues
// an in-sequence segment only after tcp_try_rmem_schedule(); when the
// receive buffer is overcommitted that runs tcp_prune_queue() (PruneCalled,
// tcp_collapse(): TCPRcvCollapsed; RcvPruned when collapsing did not help)
// and the segment is dropped (TCPRcvQDrop).
//
// Whatever happened to the FIN, a close() with unread data resets the
// connection (RFC 2525 2.17; __tcp_close() in net/ipv4/tcp.c:
// data_was_unread -> tcp_set_state(TCP_CLOSE), tcp_send_active_reset(),
// TCPAbortOnClose, reason TCP_ABORT_ON_CLOSE), and the peer, in FIN_WAIT1 or
// FIN_WAIT2, is reset (tcp_reset(): ECONNRESET outside SYN_SENT/CLOSE_WAIT,
// tcp_write_queue_purge() discards the FIN that waited, tcp_done()).
//
// Everything here was measured first (6.18.44; lo at PrivateNetns's MTU,
// MSS 1448), then pinned; see each staging for what it shows.
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

// Case 1. The FIN waits behind a full window; close() with everything
// unread resets the connection and the waiting FIN is discarded with it.
void PeerFinFullWindowTest::WindowFullCloseUnread() {
  OpenPair(GetParam().family, 0);
  if (IsSkipped() || HasFatalFailure()) return;
  if (FillWindowThenShutdown() < 0) return;
  CloseUnreadExpectReset("ESTABLISHED", "FIN_WAIT1");
}

// Case 1, contrast. Reading opens the window (tcp_recvmsg() ->
// tcp_cleanup_rbuf() sends the window update), the peer's tcp_ack() lets
// tcp_write_xmit() send the rest and then the FIN; with nothing unread,
// close() in CLOSE_WAIT sends a FIN (tcp_close_state(): LAST_ACK).
void PeerFinFullWindowTest::WindowFullDrainThenClose() {
  const std::string rule = Cite("peer-fin.follows-data-when-window-opens");
  OpenPair(GetParam().family, 0);
  if (IsSkipped() || HasFatalFailure()) return;
  const int written = FillWindowThenShutdown();
  if (written < 0) return;
  int64_t read = 0;
  absl::Status drained = WaitUntil(
      [&]() -> absl::StatusOr<bool> {
        absl::StatusOr<Drained> now = DrainReceiveQueue(closer_);
        if (!now.ok()) return now.status();
        read += static_cast<int64_t>(now->bytes);
        return now->eof;  // the FIN, after everything
      },
      kDeadline, "the closing side to read up to the FIN", closer_, POLLIN);
  ASSERT_THAT(drained, IsOk())
      << ": read " << read << " of " << written << " bytes";
  // RFC 9293 3.10.7.4 (eighth, the FIN bit): the FIN is processed once
  // everything before it has arrived; tcp_data_queue() -> tcp_fin():
  // ESTABLISHED -> CLOSE_WAIT.
  EXPECT_WITNESS_RELATION("closer: bytes read before the FIN", written, read,
                          rule);
  EXPECT_WITNESS("TCP_INFO: closer after the FIN", "CLOSE_WAIT",
                 TcpStateNameOf(closer_), rule);
  // tcp_fin() only schedules the ACK (delayed); its arrival moves the peer
  // to FIN_WAIT2 (tcp_rcv_state_process()).
  ASSERT_THAT(WaitForTcpState(peer_, "FIN_WAIT2", kDeadline), IsOk())
      << TcpStateNameOf(peer_);
  ASSERT_THAT(wire().Sync(Phase::kShutdown, kDeadline), IsOk());
  // tcp_send_fin() tacked the FIN onto the unsent tail skb (the send
  // queue was full): it rides on the last data segment, right behind the
  // last byte (relative seq 1 + written); a tail loss probe may send that
  // segment twice, never anything else with a FIN.
  const std::vector<PeerFin> fins = PeerFins();
  RecordProperty("peer_fins_sent", absl::StrCat(fins.size()));
  ASSERT_FALSE(fins.empty()) << "the peer's FIN was never captured";
  for (const PeerFin& fin : fins) {
    EXPECT_WITNESS_RELATION("wire: the peer's FIN's relative seq", 1 + written,
                            fin.seq, rule);
    EXPECT_WITNESS("wire: the FIN rides on a data segment", true,
                   fin.payload > 0, rule);
  }
  absl::StatusOr<MibSnapshot> before = ReadTcpMib();
  ASSERT_THAT(before, IsOk());

  ::close(connection_.pair.closer.release());
  ASSERT_THAT(wire().Sync(Phase::kClose, kDeadline), IsOk());
  std::string closer_left, peer_left;
  DiagStates(closer_left, peer_left);
  // LAST_ACK, or already gone when the peer's ACK came back within the
  // close() call (loopback): recorded, not asserted.
  RecordProperty("closer_right_after_close", closer_left);
  // tcp_close(): nothing unread -> tcp_close_state() CLOSE_WAIT ->
  // LAST_ACK, tcp_send_fin().
  EXPECT_WITNESS("wire: close() emits", "FIN",
                 wire().CloserEmitted(Phase::kClose), rule);
  // The peer in FIN_WAIT2: tcp_fin() -> tcp_send_ack(), tcp_time_wait();
  // the ACK ends the LAST_ACK orphan (tcp_rcv_state_process(): tcp_done()).
  absl::Status settled = WaitUntil(
      [&]() -> absl::StatusOr<bool> {
        DiagStates(closer_left, peer_left);
        return closer_left == "gone" && peer_left == "TIME_WAIT";
      },
      kDeadline, "the closing side gone and the peer in TIME_WAIT");
  EXPECT_THAT(settled, IsOk())
      << ": closer " << closer_left << ", peer " << peer_left << rule;
  ASSERT_THAT(wire().Sync(Phase::kAfter, kDeadline), IsOk());
  absl::StatusOr<MibSnapshot> after = ReadTcpMib();
  ASSERT_THAT(after, IsOk());
  EXPECT_WITNESS("counters: a FIN close", "-",
                 TeardownDeltaToString(*after, *before), rule);
  ExpectResetReasons({}, rule);
  // The peer's socket: tcp_time_wait() -> tcp_done(): CLOSE, EOF.
  EXPECT_WITNESS("TCP_INFO: peer at the end", "CLOSE", TcpStateNameOf(peer_),
                 rule);
  EXPECT_WITNESS("peer: recv() at the end", "EOF",
                 RecvOnce(peer_, 1, MSG_DONTWAIT).ToString(), rule);
}

// Case 2, as the issue puts it: exactly the window the closing side
// advertises (tcpi_snd_wnd) of data, then SHUT_WR, default buffers. The
// window does not stay full: the closing side ACKs the first segment at
// once (quickack at the start of a connection) and receive autotuning
// (tcp_grow_window(), rcv_ssthresh; free space in sk_rcvbuf) moves the
// right edge past the data, so tcp_snd_wnd_test() lets the FIN out right
// behind the last byte (on its segment or alone, as pacing decides). It
// is in window, accepted (tcp_data_queue() -> tcp_fin(): CLOSE_WAIT), and
// close() resets from CLOSE_WAIT.
void PeerFinFullWindowTest::DataFillsWindowThenFin() {
  const std::string rule = Cite("peer-fin.in-window-accepted");
  RequireDefaultBuffers();
  if (IsSkipped()) return;
  OpenPair(GetParam().family, 0);
  if (IsSkipped() || HasFatalFailure()) return;
  absl::StatusOr<uint32_t> window = PeerAdvertisedWindow(peer_);
  ASSERT_THAT(window, IsOk());
  ASSERT_GT(*window, 0u);
  const int bytes = static_cast<int>(*window);
  RecordProperty("advertised_window", absl::StrCat(bytes));
  const timeval timeout = absl::ToTimeval(kDeadline);
  ASSERT_EQ(
      ::setsockopt(peer_, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout)),
      0);
  ASSERT_THAT(wire().Sync(Phase::kSetup, kDeadline), IsOk());
  absl::StatusOr<MibSnapshot> before = ReadTcpMib();
  ASSERT_THAT(before, IsOk());
  std::vector<char> data(bytes, 'd');
  ASSERT_EQ(::send(peer_, data.data(), data.size(), MSG_NOSIGNAL), bytes)
      << ErrnoStatus("send(peer)");
  ASSERT_EQ(::shutdown(peer_, SHUT_WR), 0) << ErrnoStatus("shutdown");
  absl::Status settled = WaitUntil(
      [&]() -> absl::StatusOr<bool> {
        return TcpStateNameOf(closer_) == "CLOSE_WAIT" &&
               TcpStateNameOf(peer_) == "FIN_WAIT2";
      },
      kDeadline, "the FIN accepted and acknowledged");
  ASSERT_THAT(settled, IsOk()) << ": closer " << TcpStateNameOf(closer_)
                               << ", peer " << TcpStateNameOf(peer_);
  ASSERT_THAT(wire().Sync(Phase::kShutdown, kDeadline), IsOk());
  absl::StatusOr<MibSnapshot> after = ReadTcpMib();
  ASSERT_THAT(after, IsOk());
  const MibDelta moved = Subtract(*after, *before);
  RecordProperty("counters_after_shutdown", MemoryCounters(moved));
  absl::StatusOr<int> inq = BytesInReceiveQueue(closer_);
  ASSERT_THAT(inq, IsOk());
  EXPECT_WITNESS_RELATION("SIOCINQ: closer holds every byte", bytes, *inq,
                          rule);
  EXPECT_WITNESS_RELATION("wire: the peer's data ends at relative seq",
                          1 + bytes, PeerDataEnd(), rule);
  const std::vector<PeerFin> fins = PeerFins();
  RecordProperty("peer_fins_sent", absl::StrCat(fins.size()));
  RecordProperty("fin_rode_on_data",
                 fins.empty() || fins.front().payload == 0 ? "no" : "yes");
  ASSERT_FALSE(fins.empty()) << "the peer's FIN was never captured";
  for (const PeerFin& fin : fins) {
    EXPECT_WITNESS_RELATION("wire: the peer's FIN's relative seq", 1 + bytes,
                            fin.seq, rule);
  }
  // Nothing arrived outside the window, nothing was dropped for memory.
  ExpectMoved(moved, "TCPZeroWindowDrop", 0, rule);
  ExpectMoved(moved, "TCPRcvQDrop", 0, rule);
  CloseUnreadExpectReset("CLOSE_WAIT", "FIN_WAIT2");
}

// Case 2, the window really exactly full: the peer only ever sends what
// fits (tcpi_snd_wnd, once everything before is acknowledged) until the
// closing side (small SO_RCVBUF, so this takes a few rounds) advertises a
// zero window with nothing of the peer's left unsent; then SHUT_WR. The
// FIN is a bare skb of its own (tcp_send_fin(): no unsent tail) whose
// end_seq is tcp_wnd_end() + 1: tcp_snd_wnd_test() fails, it waits for a
// window update; the persist timer's probes (tcp_write_wakeup(): the
// FIN's seq is not before tcp_wnd_end()) are tcp_xmit_probe_skb()
// segments without it. RFC 9293 3.8.6.1: a zero window is probed, not
// overrun. Nothing is sent past the window, so nothing is dropped.
void PeerFinFullWindowTest::DataExactlyFillsWindowThenFin() {
  const std::string rule = Cite("peer-fin.held-behind-full-window");
  OpenPair(GetParam().family, kSmallReceiveBuffer);
  if (IsSkipped() || HasFatalFailure()) return;
  ASSERT_THAT(wire().Sync(Phase::kSetup, kDeadline), IsOk());
  absl::StatusOr<MibSnapshot> before = ReadTcpMib();
  ASSERT_THAT(before, IsOk());
  std::vector<char> data(64 * 1024, 'e');
  int sent = 0;
  int rounds = 0;
  uint32_t window = 0;
  while (true) {
    absl::Status acked = WaitUntil(
        [&]() -> absl::StatusOr<bool> {
          absl::StatusOr<int> outq = BytesInSendQueue(peer_);
          absl::StatusOr<uint32_t> w = PeerAdvertisedWindow(peer_);
          if (!outq.ok() || !w.ok()) {
            return absl::InternalError("cannot read the peer");
          }
          window = *w;
          return *outq == 0;
        },
        kDeadline, "everything sent acknowledged");
    ASSERT_THAT(acked, IsOk()) << " after " << sent << " bytes";
    if (window == 0) break;
    ASSERT_LT(++rounds, 1000) << "the window never closed";
    const ssize_t n =
        ::send(peer_, data.data(), std::min<size_t>(window, data.size()),
               MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0) {
      ASSERT_EQ(errno, EAGAIN) << ErrnoStatus("send(peer)");
      continue;
    }
    sent += static_cast<int>(n);
  }
  RecordProperty("peer_sent", absl::StrCat(sent));
  RecordProperty("rounds", absl::StrCat(rounds));
  absl::StatusOr<int> inq = BytesInReceiveQueue(closer_);
  ASSERT_THAT(inq, IsOk());
  ASSERT_EQ(*inq, sent) << "staging: every byte sent is queued";

  ASSERT_EQ(::shutdown(peer_, SHUT_WR), 0) << ErrnoStatus("shutdown");
  ASSERT_THAT(wire().Sync(Phase::kShutdown, kDeadline), IsOk());
  absl::StatusOr<MibSnapshot> after = ReadTcpMib();
  ASSERT_THAT(after, IsOk());
  const MibDelta moved = Subtract(*after, *before);
  RecordProperty("counters_after_shutdown", MemoryCounters(moved));
  // The FIN waits, alone: SIOCOUTQ is just its sequence number.
  absl::StatusOr<int> outq = BytesInSendQueue(peer_);
  absl::StatusOr<uint32_t> window_now = PeerAdvertisedWindow(peer_);
  ASSERT_THAT(outq, IsOk());
  ASSERT_THAT(window_now, IsOk());
  EXPECT_WITNESS("SIOCOUTQ: peer (only the FIN)", 1, *outq, rule);
  EXPECT_WITNESS("TCP_INFO: closer's window", 0, *window_now, rule);
  EXPECT_WITNESS("wire: peer emits at SHUT_WR", "-",
                 wire().PeerEmitted(Phase::kShutdown), rule);
  EXPECT_WITNESS("wire: peer FINs captured", 0, PeerFins().size(), rule);
  EXPECT_WITNESS_RELATION("wire: the peer's data ends at relative seq",
                          1 + sent, PeerDataEnd(), rule);
  // tcp_shutdown() -> tcp_close_state(): FIN_WAIT1 though the FIN waits.
  EXPECT_WITNESS("TCP_INFO: peer after SHUT_WR", "FIN_WAIT1",
                 TcpStateNameOf(peer_), rule);
  EXPECT_WITNESS("TCP_INFO: closer after SHUT_WR", "ESTABLISHED",
                 TcpStateNameOf(closer_), rule);
  // __tcp_select_window() found no room: tcp_select_window() counted the
  // move to a zero window; nothing arrived outside it, nothing dropped.
  ExpectMovedAtLeast(moved, "TCPToZeroWindowAdv", 1, rule);
  ExpectMoved(moved, "TCPZeroWindowDrop", 0, rule);
  ExpectMoved(moved, "TCPRcvQDrop", 0, rule);
  CloseUnreadExpectReset("ESTABLISHED", "FIN_WAIT1");
}

namespace {

TCPSEM_DECLARE_WITNESSES(PeerFinFullWindowTest,
                         {{Witness::kWire, kAsked},
                          {Witness::kPeerApi, kAsked},
                          {Witness::kCounters, kAsked},
                          {Witness::kSockDiag, kAsked},
                          {Witness::kResetReason, kAsked}});

TEST_P(PeerFinFullWindowTest, PeerFin) { (this->*GetParam().run)(); }

std::vector<FinCase> AllCases() {
  using T = PeerFinFullWindowTest;
  const std::vector<std::pair<const char*, void (T::*)()>> stagings = {
      {"WindowFull_CloseUnread", &T::WindowFullCloseUnread},
      {"WindowFull_DrainThenClose", &T::WindowFullDrainThenClose},
      {"DataFillsWindowThenFin", &T::DataFillsWindowThenFin},
      {"DataExactlyFillsWindowThenFin", &T::DataExactlyFillsWindowThenFin},
      {"ReceiveBufferPressure", &T::ReceiveBufferPressure},
      {"BareFinIntoOvercommittedQueue", &T::BareFinIntoOvercommittedQueue},
  };
  std::vector<FinCase> cases;
  for (const auto& [name, run] : stagings) {
    for (Family family : {Family::kV4, Family::kV6}) {
      cases.push_back({family, name, run});
    }
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(PeerFinFullWindow, PeerFinFullWindowTest,
                         ::testing::ValuesIn(AllCases()), CaseNamer());

}  // namespace
}  // namespace tcpsem::peer_fin_full_window
