// Runs the benchmarks, then prints every benchmark's wall and CPU time as a
// ratio to the floor (floor_cell.h) measured in the same run. Unless told
// otherwise it runs 5 repetitions, interleaved in random order so that a
// change in the machine's load falls on every benchmark alike, and takes
// medians. Exits 1 when any benchmark stopped with an error, 77 (skipped)
// when not root: every scenario needs a network namespace of its own.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "fixtures/base/background_close.h"

namespace {

struct Times {
  std::vector<double> wall;  // milliseconds per iteration, one per repetition
  std::vector<double> cpu;
};

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t mid = v.size() / 2;
  return v.size() % 2 == 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

double ToMs(double value, benchmark::TimeUnit unit) {
  switch (unit) {
    case benchmark::kNanosecond:
      return value / 1e6;
    case benchmark::kMicrosecond:
      return value / 1e3;
    case benchmark::kMillisecond:
      return value;
    case benchmark::kSecond:
      return value * 1e3;
  }
  return value;
}

// Scenarios that wait for a kernel timer the unread-RST floor does not, and
// the floor that waits for the same one (bench/floor_cell.h).
const std::map<std::string, std::string> kOwnFloor = {
    {"StageOne/Fin", "FloorFin"},
    {"StageOne/WindowFull", "FloorWindowFull"},
    {"StageOne/WindowFullDrain", "FloorWindowFull"},
};

// The console reporter, which also keeps every repetition's times.
class FloorRatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.error_occurred) {
        errors_.push_back(run.benchmark_name() + ": " + run.error_message);
      }
      if (run.run_type != Run::RT_Iteration || run.error_occurred) continue;
      const std::string name =
          run.run_name.function_name +
          (run.run_name.args.empty() ? "" : "/" + run.run_name.args);
      if (std::find(order_.begin(), order_.end(), name) == order_.end()) {
        order_.push_back(name);
      }
      Times& t = times_[name];
      t.wall.push_back(ToMs(run.GetAdjustedRealTime(), run.time_unit));
      auto child = run.counters.find("child_cpu_ms");
      t.cpu.push_back(child != run.counters.end()
                          ? child->second.value
                          : ToMs(run.GetAdjustedCPUTime(), run.time_unit));
    }
  }

  // Benchmarks that stopped with an error (a scenario that did not stage, a
  // floor cell whose RST never came): each makes the run fail.
  const std::vector<std::string>& errors() const { return errors_; }

  void PrintRatios() const {
    auto floor = times_.find("Floor");
    if (floor == times_.end()) {
      std::printf("\nNo Floor run (filtered out?): no ratios.\n");
      return;
    }
    const double floor_wall = Median(floor->second.wall);
    const double floor_cpu = Median(floor->second.cpu);
    std::printf(
        "\nMedians of %zu repetition(s); ratios to Floor in this run "
        "(FloorOwnProcess: CPU of the child)\n"
        "own floor: the floor that waits for the same kernel timer as the "
        "scenario (floor_cell.h), wall/own its wall ratio\n",
        floor->second.wall.size());
    std::printf("%-36s %9s %9s %8s %8s  %-16s %8s\n", "benchmark", "wall ms",
                "CPU ms", "wall/F", "CPU/F", "own floor", "wall/own");
    for (const std::string& name : order_) {
      const Times& t = times_.at(name);
      const double wall = Median(t.wall);
      const double cpu = Median(t.cpu);
      std::printf("%-36s %9.3f %9.3f %8.1f %8.1f", name.c_str(), wall, cpu,
                  wall / floor_wall, cpu / floor_cpu);
      auto own = kOwnFloor.find(name);
      auto own_times =
          own == kOwnFloor.end() ? times_.end() : times_.find(own->second);
      if (own_times != times_.end()) {
        std::printf("  %-16s %8.1f", own->second.c_str(),
                    wall / Median(own_times->second.wall));
      }
      std::printf("\n");
    }
  }

 private:
  std::vector<std::string> order_;
  std::map<std::string, Times> times_;
  std::vector<std::string> errors_;
};

bool HasFlag(int argc, char** argv, const std::string& flag) {
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]).rfind(flag, 0) == 0) return true;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  if (::geteuid() != 0) {
    std::fprintf(stderr,
                 "tcpsem_bench: not root: every scenario needs a network "
                 "namespace of its own (skipped)\n");
    return 77;
  }
  std::vector<char*> args(argv, argv + argc);
  std::string repetitions = "--benchmark_repetitions=5";
  std::string interleave = "--benchmark_enable_random_interleaving=true";
  if (!HasFlag(argc, argv, "--benchmark_repetitions")) {
    args.push_back(repetitions.data());
  }
  if (!HasFlag(argc, argv, "--benchmark_enable_random_interleaving")) {
    args.push_back(interleave.data());
  }
  int count = static_cast<int>(args.size());
  benchmark::Initialize(&count, args.data());
  if (benchmark::ReportUnrecognizedArguments(count, args.data())) return 1;
  // As in the suites: captures are released in the background
  // (fixtures/base/background_close.h), not inside the timed scenario.
  tcpsem::StartBackgroundCloser();
  FloorRatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.PrintRatios();
  benchmark::Shutdown();
  if (!reporter.errors().empty()) {
    std::fprintf(stderr, "\n%zu benchmark(s) failed:\n",
                 reporter.errors().size());
    for (const std::string& e : reporter.errors()) {
      std::fprintf(stderr, "  %s\n", e.c_str());
    }
    return 1;
  }
  return 0;
}
