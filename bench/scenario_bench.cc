// Stages and observes one scenario of each kind and reports the time per
// scenario (wall clock, including the private namespace and every witness).
#include <benchmark/benchmark.h>

#include "fixtures/isolation/netns.h"
#include "fixtures/staging/stage.h"

namespace tcpsem {
namespace {

void StageOne(benchmark::State& state, Scenario scenario, bool reasons) {
  StageOptions options;
  options.reset_reasons = reasons;
  for (auto _ : state) {
    absl::StatusOr<PrivateNetns> netns = PrivateNetns::Enter();
    if (!netns.ok()) {
      state.SkipWithError("needs root for a private network namespace");
      return;
    }
    absl::StatusOr<Observation> observation = Stage(scenario, options);
    if (!observation.ok()) {
      state.SkipWithError(std::string(observation.status().message()).c_str());
      return;
    }
    // A witness that failed its own liveness check makes the time
    // meaningless (fixtures/witnesses/liveness.h).
    if (!observation->untrusted.empty()) {
      state.SkipWithError(observation->untrusted.front().c_str());
      return;
    }
    benchmark::DoNotOptimize(observation->segments.size());
  }
}

const Scenario kFin{Family::kV4, Unread::kNone, Linger::kOff, Shutdown::kNone,
                    false};
const Scenario kRst{Family::kV4, Unread::kOne, Linger::kOff, Shutdown::kNone,
                    false};
const Scenario kLinger0{Family::kV4, Unread::kNone, Linger::kZero,
                        Shutdown::kNone, false};
const Scenario kShutWrThenRst{Family::kV6, Unread::kSegments, Linger::kOff,
                              Shutdown::kWr, false};
const Scenario kWindowFull{Family::kV4, Unread::kWindowFull, Linger::kOff,
                           Shutdown::kNone, false};
const Scenario kDrain{Family::kV4, Unread::kWindowFull, Linger::kOneSecond,
                      Shutdown::kWrThenDrain, true};

BENCHMARK_CAPTURE(StageOne, Fin, kFin, true)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(StageOne, UnreadRst, kRst, true)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(StageOne, Linger0Rst, kLinger0, true)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(StageOne, ShutWrThenRstV6, kShutWrThenRst, true)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(StageOne, WindowFull, kWindowFull, true)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(StageOne, WindowFullDrain, kDrain, true)
    ->Unit(benchmark::kMillisecond);
// Side by side: the same scenario without the reset-reason witness, to show
// what the trace instance costs.
BENCHMARK_CAPTURE(StageOne, UnreadRstNoReasons, kRst, false)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tcpsem
