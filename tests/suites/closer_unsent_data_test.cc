// The closing side's own unsent data (issue 6, scenario 9): close() and
// shutdown(SHUT_WR) while the closer's send queue still holds data that has
// not left, with and without unread data at the closer.
//
// Three ways to hold the data back:
//  - InFlightAndCwndHeld: an initial cwnd of 1 (the route's RTAX_INITCWND,
//    tcp_init_cwnd()) and a peer that delays its ACK (TCP_QUICKACK 0: pingpong
//    mode, TCP_DELACK_MIN 40 ms): of 3 segments written, one is in flight and
//    unacknowledged, two wait for cwnd (tcp_cwnd_test() in tcp_write_xmit()).
//    Measured right before close(); a connection that missed it (the thread
//    preempted past the delayed ACK) is staged again, at most 3 times.
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
#include <linux/sockios.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cerrno>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "fixtures/base/errno_status.h"
#include "fixtures/base/kernel_version.h"
#include "fixtures/base/realtime_section.h"
#include "fixtures/base/text_file.h"
#include "fixtures/base/wait_until.h"
#include "fixtures/config/sysctl_profile.h"
#include "fixtures/rules/rule_table.h"
#include "fixtures/rules/scenario_rules.h"
#include "fixtures/staging/fill_window.h"
#include "fixtures/staging/route_metrics.h"
#include "fixtures/staging/socket_pair.h"
#include "fixtures/staging/stage.h"
#include "fixtures/witnesses/mib_counters.h"
#include "fixtures/witnesses/reset_reason.h"
#include "fixtures/witnesses/segment.h"
#include "fixtures/witnesses/sock_diag.h"
#include "fixtures/witnesses/tcp_state.h"
#include "fixtures/witnesses/wire_capture.h"
#include "gtest/gtest.h"
#include "tests/harness/expect_witness.h"
#include "tests/harness/teardown_test.h"
#include "tests/harness/witness_registry.h"

namespace tcpsem {
namespace {

constexpr absl::Duration kDeadline = absl::Seconds(3);
constexpr int kUnreadBytes = 10;
constexpr int kStagingAttempts = 3;
// The shrunk-window case: what the peer holds before its buffer is cut, and
// the segments the closer then sends into the window the peer still offers.
constexpr int kAcceptedBatch = 64 * 1024;
constexpr int kDroppedSegments = 16;
constexpr char kShrinkWindowSysctl[] = "/proc/sys/net/ipv4/tcp_shrink_window";
// A shrunk window is staged only where the peer answers a drop for lack of
// receive memory with a zero window (peer-fin.memory-drop-zero-window-ack:
// upstream e2142825c120); the 6.1 series drops the segments (TCPRcvQDrop)
// without any ACK, so no shrunk window is ever advertised and snd_nxt stays
// inside the old one.
constexpr char kShrunkWindowRule[] = "peer-fin.memory-drop-zero-window-ack";

enum class Held { kInFlightAndCwnd, kZeroWindow, kBeyondShrunkWindow };

struct Case {
  Family family;
  Held held;
  bool unread;          // kUnreadBytes unread at the closer at close()
  bool shutdown_first;  // shutdown(SHUT_WR), then close()
};

std::string HeldName(Held held) {
  switch (held) {
    case Held::kInFlightAndCwnd:
      return "InFlightAndCwndHeld";
    case Held::kZeroWindow:
      return "ZeroWindowHeld";
    case Held::kBeyondShrunkWindow:
      return "BeyondShrunkWindow";
  }
  return "Held?";
}

std::string CaseName(const Case& c) {
  return absl::StrCat(FamilyName(c.family), "_", HeldName(c.held), "_Unread",
                      c.unread ? kUnreadBytes : 0,
                      c.shutdown_first ? "_ShutdownThenClose" : "_Close");
}

void PrintTo(const Case& c, std::ostream* os) { *os << CaseName(c); }

// The closer's send queue as the kernel accounts it.
struct SendQueue {
  int outq = 0;     // SIOCOUTQ: write_seq - snd_una (a queued FIN counts 1)
  int notsent = 0;  // SIOCOUTQNSD: write_seq - snd_nxt
  int unacked = 0;  // tcpi_unacked: packets_out
  uint32_t snd_wnd = 0;  // tcpi_snd_wnd: the peer's window
  int state = 0;
  int in_flight() const { return outq - notsent; }  // snd_nxt - snd_una
  std::string ToString() const {
    return absl::StrCat(TcpStateName(state), " SIOCOUTQ=", outq,
                        " SIOCOUTQNSD=", notsent, " tcpi_unacked=", unacked,
                        " tcpi_snd_wnd=", snd_wnd);
  }
};

absl::StatusOr<SendQueue> MeasureSendQueue(int fd) {
  SendQueue q;
  absl::StatusOr<int> outq = BytesInSendQueue(fd);
  if (!outq.ok()) return outq.status();
  q.outq = *outq;
  if (::ioctl(fd, SIOCOUTQNSD, &q.notsent) != 0) {
    return ErrnoStatus("SIOCOUTQNSD");
  }
  absl::StatusOr<TcpInfoFields> info = ReadTcpInfo(fd);
  if (!info.ok()) return info.status();
  q.unacked = info->unacked;
  q.state = info->state;
  q.snd_wnd = info->snd_wnd;
  return q;
}

// A staging whose precondition did not hold (the thread was held up past the
// peer's delayed ACK): the connection is staged again.
absl::Status Missed(const std::string& what) {
  return absl::UnavailableError(what);
}

absl::Status Check(bool holds, const std::string& what) {
  return holds ? absl::OkStatus() : absl::InternalError(what);
}

class CloserUnsentDataTest : public TeardownTest,
                             public ::testing::WithParamInterface<Case> {
 protected:
  // One staging and close: everything the checks need, measured.
  struct Attempt {
    Connection connection;
    int mss = 0;
    int64_t written = 0;           // bytes the closer's send() accepted
    size_t mark = 0;               // first segment after the staging
    SendQueue before;              // after staging, before shutdown()/close()
    SendQueue at_close;            // right before close()
    MibSnapshot mib_before;        // right before shutdown()/close()
    MibSnapshot mib_closed;        // right after close()
    std::vector<DiagSocket> left;  // the connection's sockets after close()
    int64_t listed_at_ns = 0;      // when that listing was complete
  };

  absl::Status WriteHeldData(const Case& c, Attempt& a) {
    const int closer = a.connection.pair.closer.get();
    const int peer = a.connection.pair.peer.get();
    switch (c.held) {
      case Held::kInFlightAndCwnd: {
        absl::StatusOr<TcpInfoFields> info = ReadTcpInfo(closer);
        if (!info.ok()) return info.status();
        // tcp_init_cwnd(): the route's RTAX_INITCWND.
        if (info->snd_cwnd != 1) {
          return absl::InternalError(
              absl::StrCat("the closer's initial cwnd is ", info->snd_cwnd,
                           ", not the route's 1"));
        }
        a.mss = info->snd_mss;
        // Pingpong mode: the peer delays its ACKs (tcp_send_delayed_ack()).
        const int zero = 0;
        if (::setsockopt(peer, IPPROTO_TCP, TCP_QUICKACK, &zero,
                         sizeof(zero)) != 0) {
          return ErrnoStatus("setsockopt(peer, TCP_QUICKACK, 0)");
        }
        const std::vector<char> data(3 * a.mss, 'c');
        const ssize_t n = ::send(closer, data.data(), data.size(),
                                 MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n != static_cast<ssize_t>(data.size())) {
          return ErrnoStatus("send(closer, 3 segments)");
        }
        a.written = n;
        return absl::OkStatus();
      }
      case Held::kZeroWindow: {
        absl::StatusOr<int> written = FillWindow(closer, kDeadline);
        if (!written.ok()) return written.status();
        a.written = *written;
        absl::StatusOr<TcpInfoFields> info = ReadTcpInfo(closer);
        if (!info.ok()) return info.status();
        a.mss = info->snd_mss;
        return absl::OkStatus();
      }
      case Held::kBeyondShrunkWindow: {
        absl::StatusOr<TcpInfoFields> info = ReadTcpInfo(closer);
        if (!info.ok()) return info.status();
        a.mss = info->snd_mss;
        const std::vector<char> batch(kAcceptedBatch, 'a');
        // Blocking (the peer's window takes it as the send buffer grows),
        // but bounded: a staging that cannot fit fails instead of hanging.
        const timeval timeout = absl::ToTimeval(kDeadline);
        if (::setsockopt(closer, SOL_SOCKET, SO_SNDTIMEO, &timeout,
                         sizeof(timeout)) != 0) {
          return ErrnoStatus("setsockopt(closer, SO_SNDTIMEO)");
        }
        if (const ssize_t n =
                ::send(closer, batch.data(), batch.size(), MSG_NOSIGNAL);
            n != kAcceptedBatch) {
          return absl::FailedPreconditionError(absl::StrCat(
              "send(closer, accepted batch) took ", n, " of ", kAcceptedBatch,
              " bytes within ", absl::FormatDuration(kDeadline)));
        }
        a.written = kAcceptedBatch;
        if (absl::Status acked = WaitUntil(
                [&]() -> absl::StatusOr<bool> {
                  absl::StatusOr<int> outq = BytesInSendQueue(closer);
                  if (!outq.ok()) return outq.status();
                  return *outq == 0;
                },
                kDeadline, "the peer to acknowledge the first batch");
            !acked.ok()) {
          return acked;
        }
        // The peer's receive buffer cut below what it already holds: the
        // next segments find no receive memory and are dropped.
        const int one = 1;
        if (::setsockopt(peer, SOL_SOCKET, SO_RCVBUF, &one, sizeof(one)) != 0) {
          return ErrnoStatus("setsockopt(peer, SO_RCVBUF)");
        }
        const std::vector<char> dropped(kDroppedSegments * a.mss, 'd');
        if (::send(closer, dropped.data(), dropped.size(),
                   MSG_NOSIGNAL | MSG_DONTWAIT) !=
            static_cast<ssize_t>(dropped.size())) {
          return ErrnoStatus("send(closer, dropped segments)");
        }
        a.written += static_cast<int64_t>(dropped.size());
        return WaitUntil(
            [&]() -> absl::StatusOr<bool> {
              absl::StatusOr<uint32_t> window = PeerAdvertisedWindow(closer);
              if (!window.ok()) return window.status();
              return *window == 0;
            },
            kDeadline, "the peer's shrunk zero window");
      }
    }
    return absl::InternalError("unknown case");
  }

  // The measured precondition: the data is held back the way the case says.
  absl::Status CheckHeld(const Case& c, const Attempt& a, const SendQueue& q,
                         bool fin_queued) {
    const int fin = fin_queued ? 1 : 0;
    const std::string measured =
        absl::StrCat(q.ToString(), " (", a.written, " bytes written, mss ",
                     a.mss, fin_queued ? ", FIN queued)" : ")");
    switch (c.held) {
      case Held::kInFlightAndCwnd:
        // One segment in flight, two held by cwnd (and the FIN on their
        // tail): anything else means the delayed ACK came already.
        if (q.unacked != 1 || q.outq != 3 * a.mss + fin ||
            q.notsent != 2 * a.mss + fin) {
          return Missed(absl::StrCat(
              "not 1 segment in flight + 2 held by cwnd: ", measured));
        }
        return absl::OkStatus();
      case Held::kZeroWindow:
        // Everything sent is acknowledged (a zero window's ACK covers
        // snd_nxt: the peer never shrinks it, tcp_select_window()); the rest
        // waits for the window.
        return Check(q.snd_wnd == 0 && q.unacked == 0 && q.in_flight() == 0 &&
                         q.notsent > fin,
                     absl::StrCat("not held by a zero window: ", measured));
      case Held::kBeyondShrunkWindow: {
        // The dropped segments are in flight beyond the shrunk window's end
        // (snd_una + 0) by at least 1 << rcv_wscale, so that
        // tcp_acceptable_seq() does not excuse the overshoot.
        absl::StatusOr<TcpInfoFields> info =
            ReadTcpInfo(a.connection.pair.closer.get());
        if (!info.ok()) return info.status();
        const int scale = 1 << info->rcv_wscale;
        return Check(q.snd_wnd == 0 && q.notsent == fin &&
                         q.in_flight() == kDroppedSegments * a.mss &&
                         q.in_flight() >= scale,
                     absl::StrCat("not beyond a shrunk zero window: ", measured,
                                  ", rcv_wscale unit ", scale));
      }
    }
    return absl::InternalError("unknown case");
  }

  // Stages one connection, shuts down / closes it, lists what is left.
  // Unavailable: the precondition was missed (stage again).
  absl::Status RunAttempt(const Case& c, Attempt& a) {
    OpenConnection(c.family, a.connection);
    if (IsSkipped() || HasFatalFailure()) {
      return absl::AbortedError("no connection");
    }
    ConnectedPair& pair = a.connection.pair;
    WireCapture& wire = *a.connection.wire;
    const int closer = pair.closer.get();
    const int peer = pair.peer.get();
    if (c.unread) {
      // The peer's bytes wait, unread, at the closer; acknowledged.
      if (::send(peer, "uuuuuuuuuu", kUnreadBytes, MSG_NOSIGNAL) !=
          kUnreadBytes) {
        return ErrnoStatus("send(peer, unread bytes)");
      }
      if (absl::Status s = WaitUntil(
              [&]() -> absl::StatusOr<bool> {
                absl::StatusOr<int> inq = BytesInReceiveQueue(closer);
                absl::StatusOr<int> outq = BytesInSendQueue(peer);
                if (!inq.ok()) return inq.status();
                if (!outq.ok()) return outq.status();
                return *inq == kUnreadBytes && *outq == 0;
              },
              kDeadline, "the unread bytes at the closer", closer, POLLIN);
          !s.ok()) {
        return s;
      }
    }
    // From the send of the held data to the orphan's listing the thread
    // runs under SCHED_FIFO: pinned test processes sharing its CPU would
    // otherwise delay it past the peer's 40 ms delayed ACK.
    std::optional<RealtimeSection> realtime;
    if (c.held == Held::kInFlightAndCwnd) realtime.emplace();
    if (absl::Status s = WriteHeldData(c, a); !s.ok()) return s;
    if (absl::Status s = wire.Sync(Phase::kSetup, kDeadline); !s.ok()) {
      return s;
    }
    a.mark = wire.segments().size();
    absl::StatusOr<SendQueue> before = MeasureSendQueue(closer);
    if (!before.ok()) return before.status();
    a.before = *before;
    if (absl::Status s = CheckHeld(c, a, a.before, false); !s.ok()) return s;
    absl::StatusOr<MibSnapshot> mib = ReadTcpMib();
    if (!mib.ok()) return mib.status();
    a.mib_before = *mib;

    if (c.shutdown_first) {
      if (::shutdown(closer, SHUT_WR) != 0) return ErrnoStatus("shutdown");
      if (absl::Status s = wire.Sync(Phase::kShutdown, kDeadline); !s.ok()) {
        return s;
      }
    }
    absl::StatusOr<SendQueue> at_close = MeasureSendQueue(closer);
    if (!at_close.ok()) return at_close.status();
    a.at_close = *at_close;
    if (absl::Status s = CheckHeld(c, a, a.at_close, c.shutdown_first);
        !s.ok()) {
      return s;
    }

    ::close(pair.closer.release());
    absl::StatusOr<std::vector<DiagSocket>> left =
        ListTcpSocketsOnPort(pair.closer_port);
    a.listed_at_ns = absl::ToUnixNanos(absl::Now());
    realtime.reset();
    if (!left.ok()) return left.status();
    if (std::optional<DiagSocket> closer =
            FindSocket(*left, pair.closer_port, pair.peer_port)) {
      a.left.push_back(*closer);
    }
    if (absl::Status s = wire.Sync(Phase::kClose, kDeadline); !s.ok()) {
      return s;
    }
    mib = ReadTcpMib();
    if (!mib.ok()) return mib.status();
    a.mib_closed = *mib;
    if (c.held == Held::kInFlightAndCwnd && !c.unread) {
      // The orphan's listing means "before the delayed ACK" only if that ACK
      // reached lo after the listing was complete (pcap and absl::Now() both
      // read CLOCK_REALTIME).
      const std::vector<Segment>& segments = wire.segments();
      const std::vector<RelativeSeq> rel = Relativize(segments);
      for (size_t i = a.mark; i < segments.size(); ++i) {
        if (segments[i].direction == Direction::kToCloser &&
            segments[i].has(TH_ACK) &&
            rel[i].ack > 1 + static_cast<uint32_t>(a.mss) / 2 &&
            segments[i].time_ns <= a.listed_at_ns) {
          return Missed(absl::StrCat(
              "the peer's delayed ACK came before the orphan was listed (",
              (a.listed_at_ns - segments[i].time_ns) / 1000, " us)"));
        }
      }
    }
    return absl::OkStatus();
  }
};
TCPSEM_DECLARE_WITNESSES(CloserUnsentDataTest,
                         {{Witness::kWire, kAsked},
                          {Witness::kPeerApi, kAsked},
                          {Witness::kCounters, kAsked},
                          {Witness::kSockDiag, kAsked},
                          {Witness::kResetReason, kAsked}});

TEST_P(CloserUnsentDataTest, WhereTheFinLeavesAndWhatTheRstCarries) {
  const Case c = GetParam();
  RequireFamily(c.family);
  if (IsSkipped()) return;
  if (c.held == Held::kInFlightAndCwnd) {
    // Read by tcp_init_cwnd() when the connection is set up: before it.
    absl::Status set = SetLoopbackInitialCwnd(c.family, 1);
    ASSERT_TRUE(set.ok()) << set;
  }
  if (c.held == Held::kBeyondShrunkWindow) {
    // The 64 KiB batch must fit the buffers at once.
    RequireDefaultBuffers();
    if (IsSkipped()) return;
  }
  if (c.held == Held::kBeyondShrunkWindow) {
    absl::StatusOr<KernelVersion> kernel = RunningKernelVersion();
    const ScenarioRule* rule = FindScenarioRule(kShrunkWindowRule);
    ASSERT_NE(rule, nullptr);
    if (kernel.ok() && !rule->kernel.Holds(*kernel)) {
      GTEST_SKIP() << "cannot stage a shrunk window on "
                   << RunningKernelDescription() << ": only kernels "
                   << rule->kernel.Range() << " (" << kShrunkWindowRule
                   << ") were seen to advertise a zero window when they "
                      "drop segments for lack of receive memory";
    }
    // net.ipv4.tcp_shrink_window (per namespace, Linux 6.5+).
    absl::Status set =
        WriteTextFile(kShrinkWindowSysctl, "1", WriteMode::kExisting);
    if (absl::IsNotFound(set)) {
      GTEST_SKIP() << "needs net.ipv4.tcp_shrink_window (Linux 6.5+) to let "
                      "the peer shrink its window: "
                   << set.message();
    }
    ASSERT_TRUE(set.ok()) << set;
  }

  std::unique_ptr<Attempt> attempt;
  std::vector<std::string> missed;
  for (int i = 0; i < kStagingAttempts; ++i) {
    attempt.reset();  // the previous connection's sockets close first
    attempt = std::make_unique<Attempt>();
    absl::Status ran = RunAttempt(c, *attempt);
    if (IsSkipped() || HasFatalFailure()) return;
    if (absl::IsUnavailable(ran)) {
      missed.push_back(std::string(ran.message()));
      continue;
    }
    ASSERT_TRUE(ran.ok()) << "staging failed (not a verdict on the kernel): "
                          << ran;
    break;
  }
  RecordProperty("restaged", static_cast<int>(missed.size()));
  ASSERT_LT(missed.size(), static_cast<size_t>(kStagingAttempts))
      << "the precondition never held in " << kStagingAttempts
      << " stagings; the last: " << missed.back();
  for (const std::string& m : missed) std::cout << "restaged: " << m << "\n";
  Attempt& a = *attempt;
  ConnectedPair& pair = a.connection.pair;
  WireCapture& wire = *a.connection.wire;
  const int peer = pair.peer.get();
  const bool rst = c.unread;
  const std::string rule =
      Cite(rst ? "unsent.unread-rst-discards" : "unsent.fin-waits-behind-data");
  const std::string seq_rule = Cite("unsent.rst-seq-acceptable");
  // The bytes FIN's sequence number follows: every byte written; and the
  // closer's snd_nxt and snd_una at close(), relative to its ISN.
  const uint32_t fin_seq = 1 + static_cast<uint32_t>(a.written);
  const int fin_queued = c.shutdown_first ? 1 : 0;
  const uint32_t snd_nxt =
      1 + static_cast<uint32_t>(a.written - (a.at_close.notsent - fin_queued));
  const uint32_t snd_una =
      1 + static_cast<uint32_t>(a.written - (a.at_close.outq - fin_queued));
  std::cout << CaseName(c) << ": before " << a.before.ToString()
            << "; at close " << a.at_close.ToString() << "; written "
            << a.written << "\n";
  RecordProperty("at_close", a.at_close.ToString());

  // ---- shutdown() and close() themselves ----
  // shutdown(): tcp_shutdown() -> tcp_close_state() -> tcp_send_fin(): the
  // FIN is set on the unsent tail skb (or a FIN-only skb is queued) and
  // pushed with the rest (__tcp_push_pending_frames()), so it waits too:
  // SIOCOUTQNSD grows by the FIN's one sequence number.
  if (c.shutdown_first) {
    EXPECT_EQ(wire.CloserEmitted(Phase::kShutdown), "-")
        << "shutdown() with the data held back should send no FIN" << rule;
    EXPECT_EQ(TcpStateName(a.at_close.state), "FIN_WAIT1") << rule;
    EXPECT_EQ(a.at_close.notsent, a.before.notsent + 1)
        << "tcp_send_fin() queues the FIN behind the held data" << rule;
    EXPECT_EQ(a.at_close.outq, a.before.outq + 1) << rule;
  }
  const std::vector<Segment>& segments = wire.segments();
  std::vector<RelativeSeq> rel = Relativize(segments);
  if (rst) {
    // __tcp_close(): unread data -> TCPAbortOnClose, tcp_set_state(CLOSE),
    // tcp_send_active_reset() (RFC 2525 2.17), whatever the send queue holds.
    EXPECT_EQ(wire.CloserEmitted(Phase::kClose), "RST") << rule;
    // EstabResets: tcp_set_state() counts ESTABLISHED/CLOSE_WAIT -> CLOSE, the
    // peer's on the RST (tcp_reset() -> tcp_done()) and the closer's own
    // unless shutdown() had moved it to FIN_WAIT1 already.
    EXPECT_EQ(TeardownDeltaToString(a.mib_closed, a.mib_before),
              c.shutdown_first ? "EstabResets+1 OutRsts+1 TCPAbortOnClose+1"
                               : "EstabResets+2 OutRsts+1 TCPAbortOnClose+1")
        << rule;
    // inet_csk_destroy_sock() in __tcp_close(): nothing is left to send the
    // held data later (tcp_v4_destroy_sock() -> tcp_write_queue_purge()).
    EXPECT_TRUE(a.left.empty())
        << "closer after close(): " << a.left.front().ToString() << rule;
  } else {
    // __tcp_close() without unread data: tcp_close_state() -> tcp_send_fin()
    // (close) or nothing more (FIN_WAIT1 stays, shutdown() queued the FIN).
    // Either way nothing leaves: the FIN waits on the held data's tail.
    EXPECT_EQ(TeardownDeltaToString(a.mib_closed, a.mib_before), "-") << rule;
    if (c.held == Held::kZeroWindow) {
      EXPECT_EQ(wire.CloserEmitted(Phase::kClose), "-")
          << "close() with the data held by a zero window should send nothing"
          << rule;
    }
    // The orphan holds the data and the FIN: idiag_wqueue is
    // write_seq - snd_una (inet_diag's tcp_diag_get_info()).
    ASSERT_EQ(a.left.size(), 1u) << "the closer should remain as an orphan";
    const DiagSocket& orphan = a.left.front();
    EXPECT_EQ(TcpStateName(orphan.state), "FIN_WAIT1")
        << orphan.ToString() << rule;
    EXPECT_TRUE(orphan.orphan()) << orphan.ToString() << rule;
    EXPECT_EQ(orphan.wqueue,
              static_cast<uint32_t>(a.at_close.outq + 1 - fin_queued))
        << orphan.ToString() << ": expected every unacknowledged byte + FIN"
        << rule;
    // The cwnd-held orphan waits on its retransmit timer (packets in
    // flight); the zero-window one on the zero-window probe timer
    // (tcp_check_probe_timer()).
    EXPECT_EQ(orphan.TimerName(),
              c.held == Held::kZeroWindow ? "probe0" : "retransmit")
        << orphan.ToString() << rule;
  }
  // No new data left the closer at shutdown()/close(): nothing beyond its
  // snd_nxt at close() (the shrunk-window case may retransmit its head on
  // RTO, tcp_retransmit_timer()'s "receiver dastardly shrinks window"). The
  // cwnd case without unread data is judged by the ACK's order below.
  const uint32_t snd_nxt_at_close = snd_nxt;
  if (!(c.held == Held::kInFlightAndCwnd && !rst)) {
    for (size_t i = a.mark; i < segments.size(); ++i) {
      const Segment& s = segments[i];
      if (s.direction != Direction::kToPeer || s.phase == Phase::kAfter) {
        continue;
      }
      EXPECT_LE(rel[i].seq + s.length, snd_nxt_at_close)
          << "closer sent new data at " << PhaseName(s.phase) << ": seq "
          << rel[i].seq << " len " << s.length << rule;
    }
  }

  // ---- The RST's sequence number ----
  if (rst) {
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
    // tcp_send_active_reset() -> tcp_acceptable_seq(): snd_nxt unless that
    // lies beyond the window's end (snd_una + snd_wnd), then the window end.
    if (c.held == Held::kBeyondShrunkWindow) {
      // snd_nxt is past snd_una + 0 by the dropped segments: the window end,
      // which is snd_una (and the peer's rcv_nxt, so tcp_validate_incoming()
      // takes it: RFC 5961 3.2's exact match).
      EXPECT_WITNESS(
          absl::StrCat("wire: RST seq = snd_una (snd_nxt ", snd_nxt, ")"),
          snd_una, rst_seq, seq_rule);
      EXPECT_LT(rst_seq, snd_nxt) << seq_rule;
    } else {
      // snd_nxt is inside the window (cwnd case: far inside; zero window:
      // exactly at its end, snd_una == snd_nxt): snd_nxt.
      EXPECT_WITNESS(
          absl::StrCat("wire: RST seq = snd_nxt (snd_una ", snd_una, ")"),
          snd_nxt, rst_seq, seq_rule);
      if (c.held == Held::kZeroWindow) {
        EXPECT_EQ(snd_una, snd_nxt) << seq_rule;
      }
      if (c.held == Held::kInFlightAndCwnd) {
        EXPECT_EQ(snd_nxt - snd_una, static_cast<uint32_t>(a.mss)) << seq_rule;
      }
    }
    // Nothing after the RST: the held data (and a queued FIN) never leave.
    uint32_t highest = 0;
    for (size_t i = 0; i < segments.size(); ++i) {
      const Segment& s = segments[i];
      if (s.direction != Direction::kToPeer) continue;
      if (i > resets.front()) {
        ADD_FAILURE() << "closer sent " << FlagNames(s.flags) << " len "
                      << s.length << " seq " << rel[i].seq << " after its RST";
      }
      if (s.length > 0) highest = std::max(highest, rel[i].seq + s.length);
      EXPECT_FALSE(s.has(TH_FIN)) << "a FIN left before the RST" << rule;
    }
    // The highest byte on the wire is snd_nxt: the rest was never sent.
    EXPECT_EQ(highest, snd_nxt) << rule;

    // The peer reads what left before the RST, then ECONNRESET (tcp_reset();
    // tcp_recvmsg() returns queued data before sk_err).
    const int64_t expected = static_cast<int64_t>(
        (c.held == Held::kBeyondShrunkWindow ? snd_una : snd_nxt) - 1);
    int64_t received = 0;
    int error = 0;
    std::vector<char> buffer(256 * 1024);
    while (true) {
      const ssize_t n =
          ::recv(peer, buffer.data(), buffer.size(), MSG_DONTWAIT);
      if (n > 0) {
        received += n;
        continue;
      }
      error = n == 0 ? 0 : errno;
      break;
    }
    EXPECT_EQ(received, expected)
        << "the peer should read exactly the bytes sent before the RST ("
        << a.written << " written)" << rule;
    EXPECT_EQ(error, ECONNRESET)
        << "after the data, recv() gave " << ErrnoName(error) << rule;
    absl::StatusOr<int> peer_state = TcpState(peer);
    ASSERT_TRUE(peer_state.ok());
    EXPECT_EQ(TcpStateName(*peer_state), "CLOSE") << rule;
  } else {
    // ---- Where the FIN leaves ----
    // The peer reads everything: its window opens (tcp_cleanup_rbuf() ->
    // window update), or its delayed ACK opens cwnd (tcp_cong_avoid()), and
    // the orphan sends the data and the FIN on the last byte.
    int64_t received = 0;
    bool eof = false;
    std::vector<char> buffer(256 * 1024);
    absl::Status read = WaitUntil(
        [&]() -> absl::StatusOr<bool> {
          while (true) {
            const ssize_t n =
                ::recv(peer, buffer.data(), buffer.size(), MSG_DONTWAIT);
            if (n > 0) {
              received += n;
              continue;
            }
            if (n == 0) {
              eof = true;
              return true;
            }
            if (errno == EAGAIN) return false;
            return ErrnoStatus("recv(peer)");
          }
        },
        kDeadline, "the peer to read everything up to EOF", peer, POLLIN);
    ASSERT_TRUE(wire.Sync(Phase::kAfter, kDeadline).ok());
    EXPECT_TRUE(read.ok()) << read << " (" << received << " bytes read)"
                           << rule;
    EXPECT_TRUE(eof) << rule;
    EXPECT_EQ(received, a.written)
        << "the peer should read every byte written" << rule;
    rel = Relativize(segments);
    std::vector<size_t> fins;
    size_t last_data = 0;
    for (size_t i = 0; i < segments.size(); ++i) {
      const Segment& s = segments[i];
      if (s.direction != Direction::kToPeer) continue;
      EXPECT_FALSE(s.has(TH_RST)) << "closer sent a RST" << rule;
      if (s.has(TH_FIN)) fins.push_back(i);
      if (s.length > 0) last_data = i;
    }
    ASSERT_FALSE(fins.empty()) << "the FIN never left";
    const size_t fin = fins.front();
    // The FIN's sequence number is ISN + 1 + bytes written: after the last
    // data byte (tcp_send_fin() set it on the tail; tso_fragment() keeps it
    // on the last piece), carried by the segment with the last data, not
    // sent alone, and never ahead of the data.
    EXPECT_EQ(rel[fin].seq + segments[fin].length, fin_seq)
        << "FIN at seq " << rel[fin].seq << " len " << segments[fin].length
        << rule;
    EXPECT_GT(segments[fin].length, 0u)
        << "the FIN should ride on the last data segment" << rule;
    EXPECT_EQ(last_data, fin) << "data left after the FIN" << rule;
    if (c.held == Held::kZeroWindow) {
      // Only the peer's reading (in the after phase) opens the window.
      EXPECT_EQ(segments[fin].phase, Phase::kAfter)
          << "the FIN left at " << PhaseName(segments[fin].phase) << rule;
    } else {
      // Causal order: after close() the closer sent nothing until the
      // peer's delayed ACK of the in-flight segment opened cwnd.
      std::optional<size_t> ack;
      for (size_t i = a.mark; i < segments.size(); ++i) {
        if (segments[i].direction == Direction::kToCloser &&
            segments[i].has(TH_ACK) && rel[i].ack > snd_una) {
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
  }

  // ---- Reset reasons ----
  if (std::optional<std::vector<ResetEvent>> events =
          PinnedResets(a.connection)) {
    std::string seen;
    for (const ResetEvent& e : *events) {
      absl::StrAppend(&seen, e.ToString(), "; ");
    }
    ASSERT_EQ(events->size(), rst ? 1u : 0u) << "RSTs traced: " << seen << rule;
    if (rst) {
      // __tcp_close(): SK_RST_REASON_TCP_ABORT_ON_CLOSE.
      EXPECT_EQ(events->front().reason, "TCP_ABORT_ON_CLOSE") << rule;
    }
  }
  // Nothing more was reset or aborted after close().
  absl::StatusOr<MibSnapshot> end = ReadTcpMib();
  ASSERT_TRUE(end.ok());
  EXPECT_EQ(TeardownDeltaToString(*end, a.mib_closed), "-") << rule;
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
                         ::testing::ValuesIn(AllCases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return CaseName(info.param);
                         });

}  // namespace
}  // namespace tcpsem
