// tcpsem_run [--tcpsem_run_*] SUITE [suite flags...]
//
// Runs a tcpsem gtest binary under a watchdog
// (fixtures/gtest/supervised_run.h): a test that runs past its bound is killed
// and recorded as hung with its diagnostics, and the run goes on with the next
// test. Its own flags, taken from anywhere on the command line:
//   --tcpsem_run_dir=DIR           journal.jsonl, suite.log, tests.txt,
//                                  results.json (default ./tcpsem-run)
//   --tcpsem_run_test_timeout=SEC  bound on one test (default 60; SEC may
//                                  be fractional, e.g. 0.5)
//   --tcpsem_run_deadline=SEC      bound on the whole run (default none): the
//                                  tests it does not reach are "not_run"
//   --tcpsem_run_jobs=N            suite processes at once (default 1; at
//                                  most 16), each a shard of the tests under
//                                  a watchdog of its own
//                                  (fixtures/gtest/sharded_run.h); 1 when
//                                  global sysctls are opted in
// Suite flags it handles for the whole run (not per process): --gtest_filter,
// --tcpsem_record and --tcpsem_html (one record of every test, with hung and
// never-run cells marked), --tcpsem_tap (and $TCPSEM_TAP). --gtest_output is
// per process and is dropped: results.json has every test.
//
// Exit status: 0 every test passed or skipped; 1 a test failed, hung,
// crashed or did not run; 2 bad arguments (one line); with TAP, kselftest's
// codes (0 pass, 1 fail, 4 all skipped).
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "fixtures/base/kernel_version.h"
#include "fixtures/base/text_file.h"
#include "fixtures/config/suite_flags.h"
#include "fixtures/gtest/sharded_run.h"
#include "fixtures/gtest/supervised_run.h"
#include "fixtures/gtest/tap_listener.h"
#include "fixtures/reports/html_report.h"
#include "fixtures/reports/journal_reader.h"
#include "fixtures/reports/record_diff.h"
#include "fixtures/reports/record_json.h"
#include "nlohmann/json.hpp"

namespace {

constexpr int kPassed = 0;
constexpr int kFailed = 1;
constexpr int kBadInput = 2;

int BadInput(const std::string& message) {
  std::fprintf(stderr, "tcpsem_run: %s\n", message.c_str());
  return kBadInput;
}

bool TakeValue(const std::string& arg, const std::string& flag,
               std::string* value) {
  const std::string prefix = flag + "=";
  if (!absl::StartsWith(arg, prefix)) return false;
  *value = arg.substr(prefix.size());
  return true;
}

struct Outputs {
  std::string record, html, tap;
};

std::string ResultsJson(const tcpsem::SupervisedRun& run,
                        const std::string& suite,
                        const std::map<std::string, int>& counts,
                        const std::string& verdict) {
  nlohmann::json doc = {
      {"schema", "tcpsem-run/1"}, {"suite", suite},
      {"verdict", verdict},       {"processes", run.processes},
      {"counts", counts},         {"tests", nlohmann::json::array()}};
  if (!run.bad_input.empty()) doc["bad_input"] = run.bad_input;
  for (const tcpsem::TestOutcome& t : run.tests) {
    doc["tests"].push_back({{"name", t.name},
                            {"result", t.result},
                            {"seconds", t.seconds},
                            {"reason", t.reason}});
  }
  return doc.dump(1) + "\n";
}

std::string Tap(const tcpsem::SupervisedRun& run, tcpsem::TapTotals* totals) {
  std::string out = absl::StrCat("TAP version 13\n1..", run.tests.size(), "\n");
  int number = 0;
  for (const tcpsem::TestOutcome& t : run.tests) {
    const bool skipped = t.result == "skipped";
    const bool ok = t.result == "passed" || skipped;
    if (!ok) {
      for (const std::string& line :
           tcpsem::TapDiagnosticLines(absl::StrCat(t.result, ": ", t.reason))) {
        absl::StrAppend(&out, line, "\n");
      }
    }
    absl::StrAppend(&out,
                    tcpsem::TapResultLine(++number, ok, t.name, skipped,
                                          skipped ? t.reason : ""),
                    "\n");
    (skipped ? totals->skip : ok ? totals->pass : totals->fail)++;
  }
  absl::StrAppend(&out, tcpsem::TapTotalsLine(*totals), "\n");
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  tcpsem::SupervisedRunOptions options;
  options.run_dir = "tcpsem-run";
  int jobs = 1;
  Outputs outputs;
  if (const char* tap = std::getenv("TCPSEM_TAP"); tap != nullptr) {
    outputs.tap = tap;
  }
  std::vector<std::string> passthrough;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    std::string value;
    if (options.suite.empty() && (arg == "--help" || arg == "-h")) {
      std::printf(
          "usage: tcpsem_run [--tcpsem_run_dir=DIR] "
          "[--tcpsem_run_test_timeout=SEC] "
          "[--tcpsem_run_deadline=SEC] [--tcpsem_run_jobs=N] SUITE "
          "[suite flags]\n");
      return kPassed;
    }
    if (TakeValue(arg, "--tcpsem_run_dir", &value)) {
      if (value.empty()) return BadInput("--tcpsem_run_dir needs a directory");
      options.run_dir = value;
    } else if (TakeValue(arg, "--tcpsem_run_test_timeout", &value) ||
               TakeValue(arg, "--tcpsem_run_deadline", &value)) {
      // Whole or fractional ("0.5", for the watchdog's own check); the
      // watchdog looks at its bounds every 250 ms.
      double seconds = 0;
      if (!absl::SimpleAtod(value, &seconds) || !std::isfinite(seconds) ||
          seconds < 0.001) {
        return BadInput(absl::StrCat(arg,
                                     ": expected a positive number of "
                                     "seconds (0.001 at least)"));
      }
      (absl::StartsWith(arg, "--tcpsem_run_test_timeout") ? options.test_timeout
                                                          : options.deadline) =
          absl::Seconds(seconds);
    } else if (TakeValue(arg, "--tcpsem_run_jobs", &value)) {
      if (!absl::SimpleAtoi(value, &jobs) || jobs < 1 ||
          jobs > tcpsem::kMaxSupervisedJobs) {
        return BadInput(absl::StrCat(arg,
                                     ": expected a number of processes, 1 to ",
                                     tcpsem::kMaxSupervisedJobs));
      }
    } else if (absl::StartsWith(arg, "--tcpsem_run")) {
      return BadInput(absl::StrCat("unknown flag ", arg));
    } else if (options.suite.empty()) {
      if (absl::StartsWith(arg, "-")) {
        return BadInput(absl::StrCat("expected the suite binary before ", arg,
                                     " (see --help)"));
      }
      options.suite = arg;
    } else if (TakeValue(arg, "--gtest_filter", &value)) {
      options.filter = value;
    } else if (TakeValue(arg, "--tcpsem_record", &value)) {
      outputs.record = value;
    } else if (TakeValue(arg, "--tcpsem_html", &value)) {
      outputs.html = value;
    } else if (TakeValue(arg, "--tcpsem_tap", &value)) {
      outputs.tap = value;
    } else if (absl::StartsWith(arg, "--tcpsem_journal")) {
      return BadInput("--tcpsem_journal is tcpsem_run's own");
    } else if (absl::StartsWith(arg, "--gtest_output")) {
      std::cerr << "tcpsem_run: " << arg << " dropped (per process); every "
                << "test's result goes to " << options.run_dir
                << "/results.json\n";
    } else {
      passthrough.push_back(arg);
    }
  }
  if (options.suite.empty()) return BadInput("no suite binary (see --help)");
  // Listing and help are not runs: the suite does them itself.
  for (const std::string& arg : passthrough) {
    if (arg == "--gtest_list_tests" || absl::StartsWith(arg, "--help") ||
        arg == "--version") {
      std::vector<char*> args = {options.suite.data()};
      for (int i = 1; i < argc; ++i) {
        if (!absl::StartsWith(argv[i], "--tcpsem_run")) args.push_back(argv[i]);
      }
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      return BadInput(absl::StrCat("cannot run ", options.suite));
    }
  }
  for (const std::string& path : {outputs.record, outputs.html}) {
    if (path.empty()) continue;
    if (absl::Status s = tcpsem::ProbeWritable(path); !s.ok()) {
      return BadInput(absl::StrCat("cannot write ", path, ": ", s.message()));
    }
  }
  ::unsetenv("TCPSEM_TAP");  // one TAP stream, written here
  options.suite_args = passthrough;
  if (outputs.tap == "-") options.output_fd = 2;

  // A run that may change the host's global sysctls holds the host alone
  // (global_lock.h): its processes would lock each other out.
  // The suite's own rule (suite_flags.h): its environment variable here,
  // its flag among the arguments passed on.
  bool global = tcpsem::GlobalSysctlsAllowed();
  for (const std::string& arg : passthrough) {
    global |= absl::StartsWith(arg, "--tcpsem_allow_global_sysctls") &&
              arg != "--tcpsem_allow_global_sysctls=false";
  }
  if (jobs > 1 && global) {
    std::cerr << "tcpsem_run: global sysctls opted in: one process, not "
              << jobs << "\n";
    jobs = 1;
  }
  absl::StatusOr<tcpsem::SupervisedRun> run =
      jobs > 1 ? tcpsem::RunSupervisedShards(options, jobs)
               : tcpsem::RunSupervised(options);
  if (!run.ok()) return BadInput(std::string(run.status().message()));
  if (!run->bad_input.empty()) return BadInput(run->bad_input);

  std::map<std::string, int> counts = {{"passed", 0},  {"failed", 0},
                                       {"skipped", 0}, {"hung", 0},
                                       {"crashed", 0}, {"not_run", 0}};
  std::vector<tcpsem::UnfinishedTest> unfinished;
  for (const tcpsem::TestOutcome& t : run->tests) {
    ++counts[t.result];
    if (t.result == "hung" || t.result == "crashed" || t.result == "not_run") {
      unfinished.push_back({t.name, t.result, t.reason});
    }
  }
  const bool all_good = counts["failed"] + counts["hung"] + counts["crashed"] +
                            counts["not_run"] ==
                        0;
  const std::string verdict = all_good ? "passed" : "failed";
  int rc = all_good ? kPassed : kFailed;
  if (absl::Status s = tcpsem::WriteTextFile(
          options.run_dir + "/results.json",
          ResultsJson(*run, options.suite, counts, verdict));
      !s.ok()) {
    std::cerr << "tcpsem_run: " << s.message() << "\n";
    rc = kFailed;
  }
  if (!outputs.record.empty() || !outputs.html.empty()) {
    absl::StatusOr<std::string> merged =
        tcpsem::MergedRecordJson(run->journal, unfinished);
    absl::Status written = merged.status();
    if (merged.ok() && !outputs.record.empty()) {
      written = tcpsem::WriteTextFile(outputs.record, *merged + "\n");
    }
    if (written.ok() && !outputs.html.empty()) {
      absl::StatusOr<tcpsem::Record> record =
          tcpsem::ParseRecord(*merged, "this run");
      written = record.ok() ? tcpsem::WriteHtmlReport(outputs.html, *record)
                            : record.status();
    }
    if (!written.ok()) {
      std::cerr << "tcpsem_run: record: " << written.message() << "\n";
      rc = kFailed;
    } else {
      if (!outputs.record.empty()) {
        std::cout << "record written: " << outputs.record << "\n";
      }
      if (!outputs.html.empty()) {
        std::cout << "report written: " << outputs.html << "\n";
      }
    }
  }
  if (!outputs.tap.empty()) {
    tcpsem::TapTotals totals;
    const std::string tap = Tap(*run, &totals);
    if (outputs.tap == "-") {
      std::fputs(tap.c_str(), stdout);
    } else if (absl::Status s = tcpsem::WriteTextFile(outputs.tap, tap);
               !s.ok()) {
      std::cerr << "tcpsem_run: --tcpsem_tap: " << s.message() << "\n";
      rc = kFailed;
    }
    if (rc == kPassed) rc = tcpsem::TapExitCode(totals);
  }
  std::fprintf(outputs.tap == "-" ? stderr : stdout,
               "tcpsem_run: %s: %zu tests: %d passed, %d failed, %d skipped, "
               "%d hung, %d crashed, %d not run (%d processes; %s); kernel "
               "%s\n",
               verdict.c_str(), run->tests.size(), counts["passed"],
               counts["failed"], counts["skipped"], counts["hung"],
               counts["crashed"], counts["not_run"], run->processes,
               (options.run_dir + "/results.json").c_str(),
               tcpsem::RunningKernelDescription().c_str());
  for (const tcpsem::TestOutcome& t : run->tests) {
    if (t.result == "hung" || t.result == "crashed") {
      std::fprintf(stderr, "tcpsem_run: %s %s\n", t.result.c_str(),
                   t.name.c_str());
    }
  }
  if (const int sig = run->interrupted_by; sig != 0) {
    std::fprintf(stderr,
                 "tcpsem_run: interrupted by SIG%s: %d of %zu tests not run; "
                 "the suite undid its changes and ended\n",
                 sigabbrev_np(sig), counts["not_run"], run->tests.size());
    return 128 + sig;
  }
  return rc;
}
