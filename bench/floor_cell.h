// The floors: the least work a cell needs from the kernel, with no witness
// at all. The benchmark divides every scenario's time by the unread-RST
// floor's, measured in the same run, and where a scenario waits for a kernel
// timer that floor does not (the delayed ACK of a FIN, the zero-window ACK),
// also by a floor that waits for the same timer: what the kernel alone needs
// for that scenario.
#pragma once

#include "absl/status/status.h"

namespace tcpsem {

enum class FloorKind {
  // The peer sends 1 byte, the closer close()s it unread, the peer's recv()
  // fails with ECONNRESET (tcp_close() sends RST for unread data).
  kUnreadRst,
  // Nothing unread: the closer close()s, and the cell waits until the peer
  // has acknowledged the FIN (the closer is in FIN_WAIT2), as the stager does
  // (fixtures/staging/stage.cc, AwaitPeerProcessed). The peer acknowledges a
  // FIN from its delayed-ACK timer (tcp_fin() enters pingpong mode); on 6.18
  // the trace event timer:timer_start shows tcp_delack_timer armed 0 jiffies
  // ahead, so the ACK leaves on the next tick: 0-4 ms at HZ=250.
  kFin,
  // The peer writes until the closer advertises a zero window (the closer
  // never reads; the zero window comes with the closer's delayed ACK), then
  // the closer close()s and the peer's recv() fails with ECONNRESET. A packet
  // socket taps lo meanwhile, as the wire witness does: a tap changes what
  // the kernel does here (see kWindowFullUntapped).
  kWindowFull,
  // The same with nothing tapping lo. Measured on 6.18 (MTU 1500, 2 cores):
  // untapped, the peer gets 841,344 bytes in and sees the zero window after
  // two delayed-ACK rounds (about 88 ms); with any ETH_P_ALL packet socket
  // bound to lo (drained or not, filtered to 128 bytes or not), 769,088
  // bytes and one round (about 44 ms). Why the tap changes the receiver's
  // window is not established here; the wire witness has the same effect.
  kWindowFullUntapped,
};

// On the calling thread: a fresh network namespace with lo up, a v4
// listener, connect and accept, then the cell `kind`; then back to the
// thread's previous namespace. Every wait is bounded.
absl::Status RunFloorCell(FloorKind kind = FloorKind::kUnreadRst);

}  // namespace tcpsem
