// The cases of CloserUnsentData (closer_unsent_data_test.cc tells the
// scenario and what is pinned) and what a staging measures of the closer's
// send queue: the precondition each case must meet before close().
#pragma once

#include <linux/sockios.h>
#include <sys/ioctl.h>

#include <cstdint>
#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "fixtures/base/errno_status.h"
#include "fixtures/staging/socket_pair.h"
#include "fixtures/witnesses/tcp_state.h"
#include "tests/harness/case_name.h"

namespace tcpsem::closer_unsent_data {

inline constexpr int kUnreadBytes = 10;
inline constexpr int kStagingAttempts = 3;
// InFlightAndCwndHeld's floor of the retransmission timeout (RTAX_RTO_MIN).
inline constexpr absl::Duration kHeldRtoMin = absl::Seconds(10);
// The shrunk-window case: what the peer holds before its buffer is cut, and
// the segments the closer then sends into the window the peer still offers.
inline constexpr int kAcceptedBatch = 64 * 1024;
inline constexpr int kDroppedSegments = 16;
inline constexpr char kShrinkWindowSysctl[] =
    "/proc/sys/net/ipv4/tcp_shrink_window";
// A shrunk window is staged only where the peer answers a drop for lack of
// receive memory with a zero window (peer-fin.memory-drop-zero-window-ack:
// upstream e2142825c120); the 6.1 series drops the segments (TCPRcvQDrop)
// without any ACK, so no shrunk window is ever advertised and snd_nxt stays
// inside the old one.
inline constexpr char kShrunkWindowRule[] =
    "peer-fin.memory-drop-zero-window-ack";

enum class Held { kInFlightAndCwnd, kZeroWindow, kBeyondShrunkWindow };

inline std::string HeldName(Held held) {
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

struct Case {
  Family family;
  Held held;
  bool unread;          // kUnreadBytes unread at the closer at close()
  bool shutdown_first;  // shutdown(SHUT_WR), then close()
  std::string Label() const {
    return absl::StrCat(HeldName(held), "_Unread", unread ? kUnreadBytes : 0,
                        shutdown_first ? "_ShutdownThenClose" : "_Close");
  }
};
inline void PrintTo(const Case& c, std::ostream* os) { *os << CaseName(c); }

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

inline absl::StatusOr<SendQueue> MeasureSendQueue(int fd) {
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
inline absl::Status Missed(const std::string& what) {
  return absl::UnavailableError(what);
}

inline absl::Status Check(bool holds, const std::string& what) {
  return holds ? absl::OkStatus() : absl::InternalError(what);
}

}  // namespace tcpsem::closer_unsent_data
