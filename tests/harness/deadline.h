// How long a scenario test waits for any one step it staged to show (a
// marker back from the capture, a state, a queue length, a counter): long
// enough for a loaded 2-core machine, short enough that a step the kernel
// never takes fails by name well inside the watchdog's 60 s per test.
#pragma once

#include "absl/time/time.h"

namespace tcpsem {

inline constexpr absl::Duration kDeadline = absl::Seconds(3);

}  // namespace tcpsem
