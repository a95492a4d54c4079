// The fixture of CloserUnsentData (closer_unsent_data_test.cc tells the
// scenario and what is pinned; closer_unsent_data_case.h its cases and the
// measured precondition): the three ways to hold the closer's own data
// back, and one staging (restaged when the
// precondition was missed) with everything the checks read, measured.
#pragma once

#include <linux/sockios.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cerrno>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "fixtures/base/errno_status.h"
#include "fixtures/base/kernel_version.h"
#include "fixtures/base/text_file.h"
#include "fixtures/base/wait_until.h"
#include "fixtures/rules/scenario_rules.h"
#include "fixtures/staging/fill_window.h"
#include "fixtures/staging/loopback_hold.h"
#include "fixtures/staging/route_metrics.h"
#include "fixtures/staging/socket_pair.h"
#include "fixtures/witnesses/mib_counters.h"
#include "fixtures/witnesses/segment.h"
#include "fixtures/witnesses/sock_diag.h"
#include "fixtures/witnesses/tcp_state.h"
#include "fixtures/witnesses/wire_capture.h"
#include "gtest/gtest.h"
#include "tests/harness/case_name.h"
#include "tests/harness/deadline.h"
#include "tests/harness/status_matchers.h"
#include "tests/harness/teardown_test.h"
#include "tests/suites/closer_unsent_data_case.h"

namespace tcpsem::closer_unsent_data {

class CloserUnsentDataFixture : public TeardownTest {
 protected:
  // How long the staging thread sleeps right before close(), after the
  // precondition was measured (only the stall self-test sets it).
  absl::Duration stall_in_window_ = absl::ZeroDuration();

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
    // How long lo held the in-flight segment (InFlightAndCwndHeld).
    absl::Duration held_for = absl::ZeroDuration();
    // The staging's steps from the held data's send to the orphan's
    // listing (CLOCK_REALTIME, like the capture's timestamps): a missed
    // precondition names where the time went.
    std::vector<std::pair<std::string, int64_t>> steps;
    void Step(std::string name) {
      steps.emplace_back(std::move(name), absl::ToUnixNanos(absl::Now()));
    }
    std::string Timeline() const {
      if (steps.empty()) return "";
      std::string out = " [steps, us after the send:";
      for (const auto& [name, ns] : steps) {
        absl::StrAppend(&out, " ", name, " +", (ns - steps[0].second) / 1000);
      }
      return out + "]";
    }
  };

  // 3 segments with cwnd 1 and a peer that delays its ACK: one in flight,
  // two held by cwnd.
  absl::Status WriteInFlightAndCwndHeld(Attempt& a) {
    const int closer = a.connection.pair.closer.get();
    const int peer = a.connection.pair.peer.get();
    absl::StatusOr<TcpInfoFields> info = ReadTcpInfo(closer);
    if (!info.ok()) return info.status();
    // tcp_init_cwnd(): the route's RTAX_INITCWND.
    if (info->snd_cwnd != 1) {
      return absl::InternalError(absl::StrCat("the closer's initial cwnd is ",
                                              info->snd_cwnd,
                                              ", not the route's 1"));
    }
    a.mss = info->snd_mss;
    // Pingpong mode: the peer delays its ACKs (tcp_send_delayed_ack()).
    const int zero = 0;
    if (::setsockopt(peer, IPPROTO_TCP, TCP_QUICKACK, &zero, sizeof(zero)) !=
        0) {
      return ErrnoStatus("setsockopt(peer, TCP_QUICKACK, 0)");
    }
    const std::vector<char> data(3 * a.mss, 'c');
    const ssize_t n =
        ::send(closer, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n != static_cast<ssize_t>(data.size())) {
      return ErrnoStatus("send(closer, 3 segments)");
    }
    a.written = n;
    return absl::OkStatus();
  }

  // Writes until the peer's zero window holds the rest.
  absl::Status WriteZeroWindowHeld(Attempt& a) {
    const int closer = a.connection.pair.closer.get();
    absl::StatusOr<int> written = FillWindow(closer, kDeadline);
    if (!written.ok()) return written.status();
    a.written = *written;
    absl::StatusOr<TcpInfoFields> info = ReadTcpInfo(closer);
    if (!info.ok()) return info.status();
    a.mss = info->snd_mss;
    return absl::OkStatus();
  }

  // A batch the peer takes, then segments it drops for lack of receive
  // memory while it shrinks its window to zero.
  absl::Status WriteBeyondShrunkWindow(Attempt& a) {
    const int closer = a.connection.pair.closer.get();
    const int peer = a.connection.pair.peer.get();
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

  // Writes the closer's data so that the case's mechanism holds it back.
  absl::Status WriteHeldData(const Case& c, Attempt& a) {
    switch (c.held) {
      case Held::kInFlightAndCwnd:
        return WriteInFlightAndCwndHeld(a);
      case Held::kZeroWindow:
        return WriteZeroWindowHeld(a);
      case Held::kBeyondShrunkWindow:
        return WriteBeyondShrunkWindow(a);
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
    // InFlightAndCwndHeld used to race the peer's 40 ms delayed ACK from
    // the send of the held data to the orphan's listing, and lost it on a
    // loaded machine (the staging waited on lo's per-CPU packet processing,
    // and a TCG guest's vCPU can stop for 100 ms). Now lo holds the in-flight
    // segment (LoopbackHold) until the orphan is listed: the peer cannot
    // acknowledge what it has not received, and the closer cannot tell a
    // held segment from one on a long wire. The capture sees nothing while
    // held, so the phases are marked (Mark(): the markers wait in order
    // behind the segments) and read after the release.
    const bool window = c.held == Held::kInFlightAndCwnd;
    auto end_phase = [&](Phase phase) {
      return window ? wire.Mark(phase) : wire.Sync(phase, kDeadline);
    };
    std::unique_ptr<LoopbackHold> hold;
    if (window) {
      absl::StatusOr<std::unique_ptr<LoopbackHold>> started =
          LoopbackHold::Start();
      if (!started.ok()) return started.status();
      hold = std::move(*started);
    }
    if (absl::Status s = WriteHeldData(c, a); !s.ok()) return s;
    a.Step("sent");
    if (absl::Status s = end_phase(Phase::kSetup); !s.ok()) return s;
    absl::StatusOr<SendQueue> before = MeasureSendQueue(closer);
    if (!before.ok()) return before.status();
    a.before = *before;
    if (absl::Status s = CheckHeld(c, a, a.before, false); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat(s.message(), a.Timeline()));
    }
    absl::StatusOr<MibSnapshot> mib = ReadTcpMib();
    if (!mib.ok()) return mib.status();
    a.mib_before = *mib;
    a.Step("mib-read");

    if (c.shutdown_first) {
      if (::shutdown(closer, SHUT_WR) != 0) return ErrnoStatus("shutdown");
      if (absl::Status s = end_phase(Phase::kShutdown); !s.ok()) return s;
      a.Step("shut");
    }
    absl::StatusOr<SendQueue> at_close = MeasureSendQueue(closer);
    if (!at_close.ok()) return at_close.status();
    a.at_close = *at_close;
    if (absl::Status s = CheckHeld(c, a, a.at_close, c.shutdown_first);
        !s.ok()) {
      return absl::Status(s.code(), absl::StrCat(s.message(), a.Timeline()));
    }

    if (stall_in_window_ > absl::ZeroDuration()) {
      // A stalled thread (CloserUnsentDataStall): a plain sleep on purpose.
      absl::SleepFor(stall_in_window_);
      a.Step("stalled");
    }
    ::close(pair.closer.release());
    a.Step("closed");
    absl::StatusOr<std::optional<DiagSocket>> left =
        LookupTcpSocket(pair.closer_ends);
    a.listed_at_ns = absl::ToUnixNanos(absl::Now());
    a.Step("listed");
    if (hold != nullptr) {
      absl::StatusOr<absl::Duration> held_for = hold->Release(kDeadline);
      if (!held_for.ok()) return held_for.status();
      a.held_for = *held_for;
      a.Step("released");
    }
    if (!left.ok()) return left.status();
    if (left->has_value()) a.left.push_back(**left);
    if (absl::Status s = wire.Sync(Phase::kClose, kDeadline); !s.ok()) {
      return s;
    }
    // The staging's segments are the leading ones tagged kSetup.
    const std::vector<Segment>& tagged = wire.segments();
    while (a.mark < tagged.size() && tagged[a.mark].phase == Phase::kSetup) {
      ++a.mark;
    }
    mib = ReadTcpMib();
    if (!mib.ok()) return mib.status();
    a.mib_closed = *mib;
    if (c.held == Held::kInFlightAndCwnd && !c.unread) {
      // The orphan's listing means "before the delayed ACK" only if that ACK
      // reached lo after the listing was complete (pcap and absl::Now() both
      // read CLOCK_REALTIME). The hold makes that so; this checks the hold.
      const std::vector<Segment>& segments = wire.segments();
      const std::vector<RelativeSeq> rel = Relativize(segments);
      for (size_t i = a.mark; i < segments.size(); ++i) {
        if (segments[i].direction == Direction::kToCloser &&
            segments[i].has(TH_ACK) &&
            rel[i].ack > 1 + static_cast<uint32_t>(a.mss) / 2 &&
            segments[i].time_ns <= a.listed_at_ns) {
          return Missed(absl::StrCat(
              "the peer's delayed ACK came before the orphan was listed (",
              (a.listed_at_ns - segments[i].time_ns) / 1000, " us; ACK +",
              (segments[i].time_ns - a.steps[0].second) / 1000, " us)",
              a.Timeline()));
        }
      }
    }
    return absl::OkStatus();
  }

  // What the case needs before its connection exists (the route's initial
  // cwnd, tcp_shrink_window), or a skip saying why it cannot be staged here.
  void PrepareNamespace(const Case& c) {
    RequireFamily(c.family);
    if (IsSkipped()) return;
    if (c.held == Held::kInFlightAndCwnd) {
      // Read by tcp_init_cwnd() and tcp_rto_min() when the connection is
      // set up: before it. The RTO's floor outlasts any hold on lo
      // (Release() is bounded by kDeadline), so the held segment is never
      // retransmitted.
      absl::Status set = SetLoopbackRouteMetrics(
          c.family, {.initcwnd = 1, .rto_min = kHeldRtoMin});
      ASSERT_THAT(set, IsOk());
      // The hold needs the tbf qdisc: find out before staging.
      absl::StatusOr<std::unique_ptr<LoopbackHold>> hold =
          LoopbackHold::Start();
      if (absl::IsFailedPrecondition(hold.status())) {
        GTEST_SKIP() << "cannot hold a segment in flight: "
                     << hold.status().message();
      }
      ASSERT_THAT(hold, IsOk());
      ASSERT_THAT((*hold)->Release(kDeadline), IsOk());
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
      ASSERT_THAT(set, IsOk());
    }
  }

  // Stages `c` (RunAttempt()) until its precondition holds, at most
  // kStagingAttempts times; `out` is the attempt that held.
  void StageWithRetries(const Case& c, std::unique_ptr<Attempt>& out) {
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
      ASSERT_THAT(ran, IsOk())
          << "staging failed (not a verdict on the kernel)";
      break;
    }
    RecordProperty("restaged", static_cast<int>(missed.size()));
    ASSERT_LT(missed.size(), static_cast<size_t>(kStagingAttempts))
        << "the precondition never held in " << kStagingAttempts
        << " stagings; the last: " << missed.back();
    for (const std::string& m : missed) std::cout << "restaged: " << m << "\n";
    out = std::move(attempt);
  }
};

}  // namespace tcpsem::closer_unsent_data
