// The floor: the least work one "unread data, close() sends RST" cell needs
// from the kernel, with no witness at all. The benchmark divides every
// scenario's time by this one's, measured in the same run.
#pragma once

#include "absl/status/status.h"

namespace tcpsem {

// On the calling thread: a fresh network namespace with lo up, a v4
// listener, connect and accept, the peer sends 1 byte, the closer close()s it
// unread, the peer's recv() fails with ECONNRESET; then back to the thread's
// previous namespace. Every wait is bounded.
absl::Status RunFloorCell();

}  // namespace tcpsem
