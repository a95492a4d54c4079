// The floor benchmarks: the minimal cell (floor_cell.h) in this process, and
// the same in a process of its own (fork, run, exit, reap), the way ctest runs
// one cell per process.
#include <benchmark/benchmark.h>
#include <poll.h>
#include <signal.h>
#include <sys/pidfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "bench/floor_cell.h"
#include "fixtures/base/unique_fd.h"

namespace tcpsem {
namespace {

// A child that has not exited by then is killed and reported.
constexpr int kChildDeadlineMs = 5000;

void Floor(benchmark::State& state, FloorKind kind) {
  for (auto _ : state) {
    if (absl::Status s = RunFloorCell(kind); !s.ok()) {
      state.SkipWithError(std::string(s.message()).c_str());
      return;
    }
  }
}

// Runs the floor cell in a forked child; returns the child's CPU seconds, or
// a negative number when the child failed or overran its deadline.
double FloorInChild() {
  const pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) ::_exit(RunFloorCell().ok() ? 0 : 1);
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  pollfd pfd = {pidfd.get(), POLLIN, 0};
  const bool exited = pidfd.valid() && ::poll(&pfd, 1, kChildDeadlineMs) == 1;
  if (!exited) ::kill(pid, SIGKILL);
  int status = 0;
  rusage usage = {};
  if (::wait4(pid, &status, 0, &usage) != pid || !exited ||
      !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return -1;
  }
  return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
         (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

void FloorOwnProcess(benchmark::State& state) {
  double child_cpu = 0;
  for (auto _ : state) {
    const double cpu = FloorInChild();
    if (cpu < 0) {
      state.SkipWithError("floor cell in a child process failed or hung");
      return;
    }
    child_cpu += cpu;
  }
  // The child's CPU; the benchmark's own CPU column counts only the parent.
  state.counters["child_cpu_ms"] =
      benchmark::Counter(child_cpu * 1e3, benchmark::Counter::kAvgIterations);
}

// "Floor" is the unread-RST floor every ratio is taken to; FloorFin and
// FloorWindowFull wait for the same kernel timers as the Fin and window-full
// scenarios (bench_main.cc prints those scenarios' ratios to them too).
BENCHMARK_CAPTURE(Floor, , FloorKind::kUnreadRst)
    ->Name("Floor")
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(Floor, Fin, FloorKind::kFin)
    ->Name("FloorFin")
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(Floor, WindowFull, FloorKind::kWindowFull)
    ->Name("FloorWindowFull")
    ->Unit(benchmark::kMillisecond);
// What the wire witness's tap changes in a window-full cell (floor_cell.h).
BENCHMARK_CAPTURE(Floor, WindowFullUntapped, FloorKind::kWindowFullUntapped)
    ->Name("FloorWindowFullUntapped")
    ->Unit(benchmark::kMillisecond);
BENCHMARK(FloorOwnProcess)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tcpsem
