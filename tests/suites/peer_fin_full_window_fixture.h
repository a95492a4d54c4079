// The fixture of PeerFinFullWindow (peer_fin_full_window_test.cc, where the
// scenario and its kernel sources are told): a connected pair whose peer
// half-closes against the closing side's full window, what each witness
// says about the peer's FIN, and the one ending every staging with data
// unread shares (close() resets, the peer reads ECONNRESET).
#pragma once

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "fixtures/base/errno_status.h"
#include "fixtures/base/kernel_version.h"
#include "fixtures/base/wait_until.h"
#include "fixtures/rules/scenario_rules.h"
#include "fixtures/staging/fill_window.h"
#include "fixtures/staging/recv_once.h"
#include "fixtures/staging/socket_pair.h"
#include "fixtures/witnesses/mib_counters.h"
#include "fixtures/witnesses/poll_view.h"
#include "fixtures/witnesses/reset_reason.h"
#include "fixtures/witnesses/sock_diag.h"
#include "fixtures/witnesses/tcp_state.h"
#include "fixtures/witnesses/wire_capture.h"
#include "gtest/gtest.h"
#include "tests/harness/case_name.h"
#include "tests/harness/deadline.h"
#include "tests/harness/expect_witness.h"
#include "tests/harness/status_matchers.h"
#include "tests/harness/teardown_test.h"

namespace tcpsem::peer_fin_full_window {

// SO_RCVBUF for the closing side where the scenario needs a small receive
// buffer; sock_setsockopt() doubles it (8192 bytes of truesize budget).
inline constexpr int kSmallReceiveBuffer = 4096;
// The most 1-byte segments the pressure scenario sends before giving up.
inline constexpr int kMaxTinySegments = 65536;
// What the peer sends before the bare-FIN scenario shrinks the closing
// side's buffer under it: several times kSmallReceiveBuffer.
inline constexpr int kOvercommitBytes = 32768;

// Where the kernels differ: tcp_data_queue()'s answer to a failed
// tcp_try_rmem_schedule() for an in-sequence segment. Kernels with upstream
// e2142825c120 (6.6) schedule an immediate ACK (ICSK_ACK_NOMEM |
// ICSK_ACK_NOW: a zero window); with 2bd99aef1b19 (6.10) a bare FIN is not
// dropped but queued with sk_forced_mem_schedule(). The 6.1 series has
// neither: it drops any segment while the receive queue is non-empty, FIN
// included, and sends no ACK. Which kernels were run is in each rule's
// kernel condition (scenario_rules.cc, `tcpsem_rules`); on any other kernel
// the suite records which behaviour it saw and pins only what all share.
enum class KernelAnswer { kNew, kOld, kNotMeasured };

// Which of two kernel-conditioned rules holds on the running kernel (its
// upstream version, kernel_version.h).
inline KernelAnswer AnswerOf(absl::string_view new_rule,
                             absl::string_view old_rule) {
  absl::StatusOr<KernelVersion> kernel = RunningKernelVersion();
  if (!kernel.ok()) return KernelAnswer::kNotMeasured;
  const ScenarioRule* now = FindScenarioRule(new_rule);
  const ScenarioRule* before = FindScenarioRule(old_rule);
  if (now != nullptr && now->kernel.Holds(*kernel)) return KernelAnswer::kNew;
  if (before != nullptr && before->kernel.Holds(*kernel)) {
    return KernelAnswer::kOld;
  }
  return KernelAnswer::kNotMeasured;
}

inline KernelAnswer MemoryDropAnswer() {
  return AnswerOf("peer-fin.memory-drop-zero-window-ack",
                  "peer-fin.memory-drop-silent");
}

inline KernelAnswer BareFinAnswer() {
  return AnswerOf("peer-fin.bare-fin-under-pressure",
                  "peer-fin.bare-fin-dropped");
}

inline int64_t Moved(const MibDelta& delta, const std::string& name) {
  auto it = delta.find(name);
  return it == delta.end() ? 0 : it->second;
}

// The counters of receive-side memory handling, for RecordProperty.
inline std::string MemoryCounters(const MibDelta& delta) {
  std::vector<std::string> out;
  for (const char* name :
       {"PruneCalled", "RcvPruned", "OfoPruned", "TCPRcvCollapsed",
        "TCPRcvQDrop", "TCPZeroWindowDrop", "TCPRcvCoalesce",
        "TCPToZeroWindowAdv", "TCPWantZeroWindowAdv", "TCPFromZeroWindowAdv",
        "TCPWinProbe", "BeyondWindow", "RetransSegs"}) {
    out.push_back(absl::StrCat(name, "=", Moved(delta, name)));
  }
  return absl::StrJoin(out, " ");
}

inline std::string SendOne(int fd) {
  const ssize_t n = ::send(fd, "x", 1, MSG_DONTWAIT | MSG_NOSIGNAL);
  if (n > 0) return "1";
  return ErrnoName(errno);
}

class PeerFinFixture : public TeardownTest {
 protected:
  // A connected pair; `closer_rcvbuf` > 0 gives the closing side that
  // SO_RCVBUF from the handshake on (TeardownTest::OpenConnection()).
  void OpenPair(Family family, int closer_rcvbuf) {
    OpenConnection(family, connection_, closer_rcvbuf);
    if (IsSkipped() || HasFatalFailure()) return;
    closer_ = connection_.pair.closer.get();
    peer_ = connection_.pair.peer.get();
  }

  WireCapture& wire() { return *connection_.wire; }

  // The FIN segments the peer put on the wire so far: the relative sequence
  // number each FIN occupies (after the segment's payload: a FIN may ride
  // on data) and that payload.
  struct PeerFin {
    uint32_t seq;
    uint32_t payload;
  };
  std::vector<PeerFin> PeerFins() {
    const std::vector<Segment>& segments = wire().segments();
    const std::vector<RelativeSeq> rel = Relativize(segments);
    std::vector<PeerFin> out;
    for (size_t i = 0; i < segments.size(); ++i) {
      if (segments[i].direction == Direction::kToCloser &&
          segments[i].has(TH_FIN)) {
        out.push_back({rel[i].seq + segments[i].length, segments[i].length});
      }
    }
    return out;
  }

  // The highest relative sequence number the peer's data reached.
  uint32_t PeerDataEnd() {
    const std::vector<Segment>& segments = wire().segments();
    const std::vector<RelativeSeq> rel = Relativize(segments);
    uint32_t end = 0;
    for (size_t i = 0; i < segments.size(); ++i) {
      if (segments[i].direction == Direction::kToCloser &&
          segments[i].length > 0) {
        end = std::max(end, rel[i].seq + segments[i].length);
      }
    }
    return end;
  }

  // The states of the connection's two ends by exact sock_diag lookup
  // ("gone" when a side has no socket; TIME_WAIT mini-sockets included).
  void DiagStates(std::string& closer, std::string& peer) {
    const TcpEndpoints& ends = connection_.pair.closer_ends;
    absl::StatusOr<std::optional<DiagSocket>> closer_socket =
        LookupTcpSocket(ends);
    ASSERT_THAT(closer_socket, IsOk());
    absl::StatusOr<std::optional<DiagSocket>> peer_socket =
        LookupTcpSocket(ends.Reversed());
    ASSERT_THAT(peer_socket, IsOk());
    closer = StateOrGone(*closer_socket);
    peer = StateOrGone(*peer_socket);
  }

  // The same from one listing of every socket on the port, and how many
  // there are: a dump, because "nothing left" must also see sockets this
  // connection cannot name (whatever else holds the port).
  void DiagStatesOnPort(std::string& closer, std::string& peer, size_t& count) {
    absl::StatusOr<std::vector<DiagSocket>> left =
        ListTcpSocketsOnPort(connection_.pair.closer_port);
    ASSERT_THAT(left, IsOk());
    const ConnectedPair& pair = connection_.pair;
    closer = StateOrGone(FindSocket(*left, pair.closer_port, pair.peer_port));
    peer = StateOrGone(FindSocket(*left, pair.peer_port, pair.closer_port));
    count = left->size();
  }

  // Which RSTs the kernel sent and why, where the reasons are pinned
  // (PinnedResets() records why when they are not).
  void ExpectResetReasons(const std::vector<std::string>& expected,
                          const std::string& rule) {
    std::optional<std::vector<ResetEvent>> events = PinnedResets(connection_);
    if (!events) return;
    std::vector<std::string> reasons, described;
    for (const ResetEvent& e : *events) {
      reasons.push_back(e.reason);
      described.push_back(e.ToString());
    }
    RecordProperty("resets_traced", absl::StrJoin(described, "; "));
    EXPECT_WITNESS("reset reason", absl::StrJoin(expected, ","),
                   absl::StrJoin(reasons, ","), rule);
  }

  // The shared end of every staging that leaves data unread: close() must
  // reset (RFC 2525 2.17, __tcp_close()), the peer must be reset wherever
  // its FIN was. `closer_state` / `peer_state`: the states before the close.
  void CloseUnreadExpectReset(const std::string& closer_state,
                              const std::string& peer_state) {
    const std::string rule = Cite("peer-fin.unread-close-resets-peer");
    absl::StatusOr<int> unread = BytesInReceiveQueue(closer_);
    ASSERT_THAT(unread, IsOk());
    ASSERT_GT(*unread, 0) << "staging: nothing left unread before close()";
    RecordProperty("unread_at_close", absl::StrCat(*unread));
    EXPECT_WITNESS("TCP_INFO: closer before close()", closer_state,
                   TcpStateNameOf(closer_), rule);
    EXPECT_WITNESS("TCP_INFO: peer before close()", peer_state,
                   TcpStateNameOf(peer_), rule);
    ASSERT_THAT(wire().Sync(Phase::kShutdown, kDeadline), IsOk());
    absl::StatusOr<MibSnapshot> before = ReadTcpMib();
    ASSERT_THAT(before, IsOk());

    ::close(connection_.pair.closer.release());
    ASSERT_THAT(wire().Sync(Phase::kClose, kDeadline), IsOk());
    absl::StatusOr<MibSnapshot> after = ReadTcpMib();
    ASSERT_THAT(after, IsOk());
    const MibDelta moved = Subtract(*after, *before);
    RecordProperty("counters_at_close", DeltaToString(moved));

    // __tcp_close(): data_was_unread -> tcp_send_active_reset(),
    // LINUX_MIB_TCPABORTONCLOSE; tcp_set_state() counts EstabResets for the
    // closing side (leaving ESTABLISHED or CLOSE_WAIT) but not for the peer,
    // whose tcp_reset() takes it out of FIN_WAIT1/FIN_WAIT2.
    EXPECT_WITNESS("wire: close() with data unread emits", "RST",
                   wire().CloserEmitted(Phase::kClose),
                   absl::StrCat(rule, "\n  (", *unread, " bytes unread)"));
    EXPECT_WITNESS("counters: at close()",
                   "EstabResets+1 OutRsts+1 TCPAbortOnClose+1",
                   TeardownDeltaToString(*after, *before), rule);
    ExpectResetReasons({"TCP_ABORT_ON_CLOSE"}, rule);

    // tcp_reset() -> tcp_done(): the peer is CLOSE at once; the RST was
    // processed before Sync()'s marker, but wait for the state anyway.
    ASSERT_THAT(WaitForTcpState(peer_, "CLOSE", kDeadline), IsOk())
        << "the peer after the RST: " << TcpStateNameOf(peer_);
    // tcp_poll(): sk_err -> ERR; SHUTDOWN_MASK -> HUP; RCV_SHUTDOWN -> IN,
    // RDHUP; SEND_SHUTDOWN -> OUT (a write would not block: it fails).
    absl::StatusOr<std::string> events = PollEvents(peer_);
    ASSERT_THAT(events, IsOk());
    EXPECT_WITNESS("peer: poll() after the RST", "IN,OUT,ERR,HUP,RDHUP",
                   *events, rule);
    // tcp_reset(): ECONNRESET outside SYN_SENT and CLOSE_WAIT (the peer was
    // in FIN_WAIT1/2); sock_error() consumes it, then recv() reads EOF
    // (RCV_SHUTDOWN) and send() fails with EPIPE (SEND_SHUTDOWN).
    const std::string recv1 = RecvOnce(peer_, 1, MSG_DONTWAIT).ToString();
    const std::string recv2 = RecvOnce(peer_, 1, MSG_DONTWAIT).ToString();
    const std::string send1 = SendOne(peer_);
    RecordProperty("peer_after_reset",
                   absl::StrCat("poll=", *events, " recv=", recv1, ",", recv2,
                                " send=", send1));
    EXPECT_WITNESS("peer: first recv() after the RST", "ECONNRESET", recv1,
                   rule);
    EXPECT_WITNESS("peer: second recv()", "EOF", recv2, rule);
    EXPECT_WITNESS("peer: send() after the RST", "EPIPE", send1, rule);
    // tcp_done() on both ends: nothing is left, not even a TIME_WAIT.
    std::string closer_left, peer_left;
    size_t count = 0;
    DiagStatesOnPort(closer_left, peer_left, count);
    EXPECT_WITNESS("sock_diag: sockets left", "0 (closer gone, peer gone)",
                   absl::StrCat(count, " (closer ", closer_left, ", peer ",
                                peer_left, ")"),
                   rule);
  }

  // Case 1: FillWindow(), then the peer's SHUT_WR; checks that the FIN
  // waits in the peer's send queue. Returns the bytes the peer wrote.
  int FillWindowThenShutdown() {
    const std::string rule = Cite("peer-fin.held-behind-full-window");
    absl::StatusOr<int> written = FillWindow(peer_, kDeadline);
    EXPECT_THAT(written, IsOk()) << rule;
    if (!written.ok()) return -1;
    absl::StatusOr<int> outq_before = BytesInSendQueue(peer_);
    EXPECT_THAT(outq_before, IsOk()) << rule;
    EXPECT_THAT(wire().Sync(Phase::kSetup, kDeadline), IsOk()) << rule;

    EXPECT_THAT(::shutdown(peer_, SHUT_WR), SyscallSucceeds()) << rule;
    EXPECT_THAT(wire().Sync(Phase::kShutdown, kDeadline), IsOk()) << rule;
    absl::StatusOr<int> outq = BytesInSendQueue(peer_);
    absl::StatusOr<uint32_t> window = PeerAdvertisedWindow(peer_);
    EXPECT_THAT(outq, IsOk());
    EXPECT_THAT(window, IsOk()) << rule;
    if (!outq.ok() || !window.ok() || !outq_before.ok()) return -1;
    RecordProperty("peer_wrote", absl::StrCat(*written));
    RecordProperty("peer_unacked_at_shutdown", absl::StrCat(*outq_before));
    // tcp_send_fin(): the FIN goes on the unsent tail skb, write_seq + 1;
    // tcp_write_xmit(): tcp_snd_wnd_test() fails for everything queued, so
    // nothing, and no FIN, leaves (the persist timer probes with snd_una - 1).
    EXPECT_WITNESS("SIOCOUTQ: peer's growth at SHUT_WR (the queued FIN)", 1,
                   *outq - *outq_before, rule);
    EXPECT_WITNESS("TCP_INFO: closer's window after SHUT_WR", 0, *window, rule);
    EXPECT_WITNESS("wire: peer emits at SHUT_WR", "-",
                   wire().PeerEmitted(Phase::kShutdown), rule);
    EXPECT_WITNESS("wire: peer FINs captured", 0, PeerFins().size(), rule);
    // tcp_shutdown() -> tcp_close_state(): ESTABLISHED -> FIN_WAIT1 whether
    // or not the FIN could be sent; the closing side saw no FIN.
    EXPECT_WITNESS("TCP_INFO: peer after SHUT_WR", "FIN_WAIT1",
                   TcpStateNameOf(peer_), rule);
    EXPECT_WITNESS("TCP_INFO: closer after SHUT_WR", "ESTABLISHED",
                   TcpStateNameOf(closer_), rule);
    return *written;
  }

  // The bare-FIN staging: the peer's kOvercommitBytes delivered and
  // acknowledged, then the closing side's SO_RCVBUF cut below them.
  void OvercommitClosersQueue() {
    std::vector<char> data(kOvercommitBytes, 'o');
    const timeval timeout = absl::ToTimeval(kDeadline);
    ASSERT_EQ(
        ::setsockopt(peer_, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout)),
        0);
    ASSERT_EQ(::send(peer_, data.data(), data.size(), MSG_NOSIGNAL),
              kOvercommitBytes)
        << ErrnoStatus("send(peer)");
    absl::Status delivered = WaitUntil(
        [&]() -> absl::StatusOr<bool> {
          absl::StatusOr<int> inq = BytesInReceiveQueue(closer_);
          absl::StatusOr<int> outq = BytesInSendQueue(peer_);
          if (!inq.ok() || !outq.ok()) {
            return absl::InternalError("cannot read the queues");
          }
          return *inq == kOvercommitBytes && *outq == 0;
        },
        kDeadline, "the data delivered and acknowledged");
    ASSERT_THAT(delivered, IsOk());
    const int small = kSmallReceiveBuffer;
    ASSERT_EQ(
        ::setsockopt(closer_, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
    int rcvbuf = 0;
    socklen_t len = sizeof(rcvbuf);
    ASSERT_EQ(::getsockopt(closer_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, &len), 0);
    ASSERT_LT(rcvbuf, kOvercommitBytes) << "staging: not overcommitted";
    RecordProperty("closer_rcvbuf", absl::StrCat(rcvbuf));
  }

  // How far a counter moved, as a witness row (exactly, or at least).
  static void ExpectMoved(const MibDelta& moved, const char* counter,
                          int64_t exactly, const std::string& rule) {
    EXPECT_WITNESS(absl::StrCat("counters: ", counter), exactly,
                   Moved(moved, counter), rule);
  }
  static void ExpectMovedAtLeast(const MibDelta& moved, const char* counter,
                                 int64_t minimum, const std::string& rule) {
    EXPECT_WITNESS_AT_LEAST(absl::StrCat("counters: ", counter), minimum,
                            Moved(moved, counter), rule);
  }

  // What SendTinySegmentsUntilPressure() ended with.
  struct TinySegments {
    int sent = 0;
    bool dropped = false;  // else: the window closed first
  };
  // Case 3's staging: 1-byte segments from the peer (TCP_NODELAY), each
  // once the previous one arrived, until one is dropped for memory
  // (TCPRcvQDrop moved since `before`) or the peer learns of a zero window.
  void SendTinySegmentsUntilPressure(const MibSnapshot& before,
                                     TinySegments& out) {
    auto drops = [&]() -> absl::StatusOr<int64_t> {
      absl::StatusOr<MibSnapshot> now = ReadTcpMib();
      if (!now.ok()) return now.status();
      return Moved(Subtract(*now, before), "TCPRcvQDrop");
    };
    // One byte at a time, each once the previous one arrived, until one is
    // dropped for memory or the peer learns of a zero window (which may hold
    // the byte just written in its queue: a Linux sender never sends past
    // the window).
    int sent = 0;
    bool dropped = false;
    bool window_closed = false;
    while (!dropped && !window_closed) {
      ASSERT_LT(sent, kMaxTinySegments) << "no pressure after " << sent;
      // Room for one more byte in the window and the peer's send buffer
      // (the unacknowledged 1-byte skbs count their whole truesize against
      // sk_sndbuf), or a closed window.
      absl::Status room = WaitUntil(
          [&]() -> absl::StatusOr<bool> {
            absl::StatusOr<uint32_t> w = PeerAdvertisedWindow(peer_);
            absl::StatusOr<int> outq = BytesInSendQueue(peer_);
            if (!w.ok() || !outq.ok()) {
              return absl::InternalError("cannot read the peer");
            }
            window_closed = *w == 0;
            pollfd pfd = {peer_, POLLOUT, 0};
            return window_closed || (static_cast<int64_t>(*w) > *outq &&
                                     ::poll(&pfd, 1, 0) == 1);
          },
          kDeadline, "room in the window and the peer's send buffer");
      ASSERT_THAT(room, IsOk()) << " after " << sent << " bytes";
      if (window_closed) break;
      ASSERT_EQ(::send(peer_, "p", 1, MSG_DONTWAIT | MSG_NOSIGNAL), 1)
          << ErrnoStatus("send(peer)") << " after " << sent << " bytes";
      ++sent;
      // Thousands of segments: empty the capture ring (256 KB) as we go.
      if (sent % 64 == 0) {
        absl::Status drained = wire().Drain(Phase::kSetup);
        ASSERT_THAT(drained, IsOk());
      }
      absl::Status arrived = WaitUntil(
          [&]() -> absl::StatusOr<bool> {
            absl::StatusOr<int> inq = BytesInReceiveQueue(closer_);
            if (!inq.ok()) return inq.status();
            if (*inq == sent) return true;
            absl::StatusOr<int64_t> n = drops();
            if (!n.ok()) return n.status();
            dropped = *n > 0;
            if (dropped) return true;
            absl::StatusOr<uint32_t> w = PeerAdvertisedWindow(peer_);
            if (!w.ok()) return w.status();
            window_closed = *w == 0;
            return window_closed;
          },
          kDeadline, "the byte to arrive, be dropped or be held back");
      ASSERT_THAT(arrived, IsOk()) << " (byte " << sent << ")";
    }
    out.sent = sent;
    out.dropped = dropped;
  }

  Connection connection_;
  int closer_ = -1;
  int peer_ = -1;
};

class PeerFinFullWindowTest;
// A staging: its name and the member of PeerFinFullWindowTest that runs it.
struct FinCase {
  Family family;
  const char* staging;
  void (PeerFinFullWindowTest::*run)();
  std::string Label() const { return staging; }
};
inline void PrintTo(const FinCase& c, std::ostream* os) { *os << CaseName(c); }

// One member per staging, each the whole exchange: stage, observe, compare.
// The window stagings (cases 1 and 2) are in peer_fin_full_window_test.cc,
// the receive-memory ones (case 3) in peer_fin_full_window_pressure_test.cc.
class PeerFinFullWindowTest : public PeerFinFixture,
                              public ::testing::WithParamInterface<FinCase> {
 public:
  // Case 1: FillWindow, SHUT_WR, close() with everything unread.
  void WindowFullCloseUnread();
  // Case 1, contrast: FillWindow, SHUT_WR, the closing side reads all.
  void WindowFullDrainThenClose();
  // Case 2: exactly the advertised window of data, then SHUT_WR (default
  // buffers: autotuning moves the window's right edge).
  void DataFillsWindowThenFin();
  // Case 2 with the window kept exactly full: data up to a zero window and
  // nothing left unsent, then SHUT_WR.
  void DataExactlyFillsWindowThenFin();
  // Case 3: 1-byte segments into a small SO_RCVBUF until one is dropped for
  // memory (or the window closes), then SHUT_WR.
  void ReceiveBufferPressure();
  // Case 3, the FIN itself under pressure: the closing side's SO_RCVBUF is
  // shrunk below what it already holds, then a bare FIN arrives.
  void BareFinIntoOvercommittedQueue();
};

}  // namespace tcpsem::peer_fin_full_window
