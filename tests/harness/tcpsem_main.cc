// main() of the teardown suites: gtest flags, then tcpsem's own flags
// (unknown flags are an error), then a listener that prints the behaviour
// table and writes the record when the run ends.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "fixtures/base/background_close.h"
#include "fixtures/base/errno_status.h"
#include "fixtures/base/text_file.h"
#include "fixtures/config/run_profile.h"
#include "fixtures/config/suite_flags.h"
#include "fixtures/config/sysctl/global_lock.h"
#include "fixtures/gtest/leak_check_listener.h"  // TAP/leak-check listeners
#include "fixtures/gtest/progress_journal.h"
#include "fixtures/gtest/tap_listener.h"  // TAP/leak-check listeners
#include "fixtures/gtest/warm_server.h"
#include "fixtures/isolation/netns.h"
#include "fixtures/isolation/rootless.h"
#include "fixtures/reports/html_report.h"
#include "fixtures/reports/record.h"
#include "fixtures/reports/run_log.h"
#include "fixtures/reports/scenario_record.h"
#include "fixtures/reports/scripted_record.h"
#include "gtest/gtest.h"
#include "tests/harness/witness_recorder.h"

namespace tcpsem {
namespace {

// Nothing ran, for a reason of the host, not of the kernel under test: the
// global tests' SKIP_RETURN_CODE in ctest.
constexpr int kSkippedExit = 77;

class RecordListener : public ::testing::EmptyTestEventListener {
 public:
  explicit RecordListener(RunContext context) : context_(std::move(context)) {}
  void OnTestProgramEnd(const ::testing::UnitTest&) override {
    const std::vector<CellResult> cells = RunLog::Get().Results();
    // The matrix's cells, then the scripted-peer tests' (scripted_record.h),
    // then the scenario suites' (scenario_record.h).
    Record record = MakeRecord(context_, cells);
    AppendScriptedResults(ScriptedResultLog::Get().Results(), &record);
    for (RecordCell& cell : ScenarioCellLog::Get().Results()) {
      record.cells.push_back(std::move(cell));
    }
    if (absl::GetFlag(FLAGS_tcpsem_table)) {
      std::cout << "\n" << BehaviourTable(context_, cells) << std::flush;
    }
    if (const std::string html = absl::GetFlag(FLAGS_tcpsem_html);
        !html.empty()) {
      // The page is drawn from the record, as tcpsem_diff draws it.
      record.source = "this run";
      absl::Status written = WriteHtmlReport(html, record);
      if (!written.ok()) {
        std::cerr << "tcpsem: " << written.message() << "\n";
        failed_ = true;
      } else {
        std::cout << "report written: " << html << "\n";
      }
    }
    const std::string path = absl::GetFlag(FLAGS_tcpsem_record);
    if (!path.empty()) {
      if (absl::Status s =
              WriteTextFile(path, RecordToJson(record), WriteMode::kReplace);
          !s.ok()) {
        std::cerr << "tcpsem: " << s.message() << "\n";
        failed_ = true;
      } else {
        std::cout << "record written: " << path << " (" << record.cells.size()
                  << " cells)\n";
      }
    }
  }
  bool failed() const { return failed_; }
  const RunContext& context() const { return context_; }

 private:
  RunContext context_;
  bool failed_ = false;
};

// Fails early, in one line, when the artifacts directory cannot be used:
// proves it by creating (and removing) a file in it, or, while it does not
// exist yet, in its parent (where a failing cell will create it). Nothing is
// created and removed that another test process might be using: ctest starts
// many of these at once.
bool ArtifactsDirUsable() {
  const std::string dir = ArtifactsDir();
  struct stat st;
  std::string where = dir;
  if (::stat(dir.c_str(), &st) != 0) {
    const size_t slash = dir.find_last_of('/');
    if (slash == std::string::npos) {
      where = ".";
    } else if (slash == 0) {
      where = "/";
    } else {
      where = dir.substr(0, slash);
    }
  }
  std::string probe = absl::StrCat(where, "/.tcpsem-write-check-XXXXXX");
  const int fd = ::mkstemp(probe.data());
  const int err = errno;
  if (fd >= 0) {
    ::close(fd);
    ::unlink(probe.c_str());
    return true;
  }
  std::cerr << "tcpsem: artifacts directory '" << dir
            << "' is not writable: " << ErrnoName(err)
            << "; choose another with --tcpsem_artifacts or "
               "TCPSEM_ARTIFACTS\n";
  return false;
}

// absl reports an unknown flag with exit status 1, which is also "a test
// failed"; bad input gets its own status, 2, and one line.
bool FlagsKnown(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--") break;
    if (!absl::ConsumePrefix(&arg, "--") && !absl::ConsumePrefix(&arg, "-")) {
      std::cerr << "tcpsem: unexpected argument '" << argv[i]
                << "' (this binary takes flags only; see --helpfull)\n";
      return false;
    }
    absl::string_view name = arg.substr(0, arg.find('='));
    if (absl::FindCommandLineFlag(name) != nullptr) continue;
    // absl's usage flags are handled by ParseCommandLine, not registered.
    if (name == "help" || name == "helpfull" || name == "helpshort" ||
        name == "helppackage" || name == "helpon" || name == "helpmatch" ||
        name == "version" || name == "only_check_args") {
      continue;
    }
    if (absl::ConsumePrefix(&name, "no") &&
        absl::FindCommandLineFlag(name) != nullptr) {
      continue;
    }
    std::cerr << "tcpsem: unknown command line flag '" << argv[i]
              << "' (see --helpfull)\n";
    return false;
  }
  return true;
}

RunContext ReadContextAsTestsSeeIt() {
  // Inside a private namespace with the run's profile applied, the sysctls
  // are what every test sees.
  absl::StatusOr<PrivateNetns> netns = PrivateNetns::Enter();
  absl::StatusOr<Profile> profile =
      netns.ok() ? ApplyRunProfile(*netns) : RunProfile();
  RunContext context = ReadRunContext();
  if (profile.ok()) {
    context.profile = profile->name;
    context.profile_description = profile->Describe();
    for (const auto& [key, value] : profile->read_back) {
      context.sysctls[key] = value;
    }
  } else {
    context.profile = RunProfile().name;
    context.profile_description =
        absl::StrCat(RunProfile().Describe(),
                     "\n  not applied: ", profile.status().message());
  }
  return context;
}

// A warm runner reads the context once, for its own profile; each test it
// forks reuses it when the test asks for the same profile (ctest gives the
// runner and its tests one environment), and reads its own otherwise.
struct WarmContext {
  std::string spec;
  bool allow_global = false;
  RunContext context;
};
std::optional<WarmContext>& WarmContextCache() {
  static std::optional<WarmContext> cache;
  return cache;
}

RunContext ContextAsTestsSeeIt() {
  if (const std::optional<WarmContext>& warm = WarmContextCache();
      warm && warm->spec == ProfileSpec() &&
      warm->allow_global == GlobalSysctlsAllowed()) {
    return warm->context;
  }
  return ReadContextAsTestsSeeIt();
}

}  // namespace
}  // namespace tcpsem

namespace tcpsem {
namespace {

// One run of the suite: what main() does, and what each test a warm runner
// forks does with the launcher's argv.
int RunSuite(int argc, char** argv, const absl::Status& rootless) {
  ::testing::InitGoogleTest(&argc, argv);
  absl::SetProgramUsageMessage(
      "tcpsem teardown suite; gtest flags plus --tcpsem_* (see --helpfull)");
  if (!tcpsem::FlagsKnown(argc, argv)) return 2;
  absl::ParseCommandLine(argc, argv);
  if (!tcpsem::ArtifactsDirUsable()) return 2;
  for (const std::string& output :
       {absl::GetFlag(FLAGS_tcpsem_record), absl::GetFlag(FLAGS_tcpsem_html)}) {
    if (output.empty()) continue;
    if (absl::Status s = tcpsem::ProbeWritable(output); !s.ok()) {
      std::cerr << "tcpsem: cannot write " << output << ": " << s.message()
                << "\n";
      return 2;
    }
  }
  const std::string spec = tcpsem::ProfileSpec();
  if (absl::Status s =
          tcpsem::SelectRunProfile(spec, tcpsem::GlobalSysctlsAllowed());
      !s.ok()) {
    if (absl::IsUnavailable(s)) {  // another run holds the global lock
      std::cerr << "tcpsem: skipped: profile '" << spec << "' changes global "
                << "sysctls: " << s.message() << "\n";
      return tcpsem::kSkippedExit;
    }
    std::cerr << "tcpsem: profile '" << spec << "': " << s.message() << "\n";
    return 2;
  }
  auto* listener = new tcpsem::RecordListener(tcpsem::ContextAsTestsSeeIt());
  ::testing::UnitTest::GetInstance()->listeners().Append(listener);
  // Before the leak checker, so that its failures are in the journal too.
  if (const std::string journal = tcpsem::JournalDestination();
      !journal.empty()) {
    absl::StatusOr<tcpsem::ProgressJournalListener*> created =
        tcpsem::ProgressJournalListener::Create(journal, listener->context());
    if (!created.ok()) {
      std::cerr << "tcpsem: --tcpsem_journal: " << created.status().message()
                << "\n";
      return 2;
    }
    ::testing::UnitTest::GetInstance()->listeners().Append(*created);
  }
  // After the journal, before the leak checker: a scenario test's cell is
  // made once its verdict is final, before the journal writes its line.
  ::testing::UnitTest::GetInstance()->listeners().Append(
      new tcpsem::WitnessRecordListener);
  // --- BEGIN TAP / leak-check listeners (fixtures/gtest/tap_listener.h,
  // fixtures/gtest/leak_check_listener.h). The leak checker must be appended
  // last: gtest sends OnTestEnd in reverse order, so its failures reach
  // the printer and the TAP listener.
  ::testing::TestEventListeners& listeners =
      ::testing::UnitTest::GetInstance()->listeners();
  tcpsem::TapListener* tap = nullptr;
  if (const std::string dest = tcpsem::TapDestination(); !dest.empty()) {
    absl::StatusOr<tcpsem::TapListener*> created =
        tcpsem::TapListener::Create(dest);
    if (!created.ok()) {
      std::cerr << "tcpsem: --tcpsem_tap: " << created.status().message()
                << "\n";
      return 2;
    }
    tap = *created;
    if (tap->to_stdout()) {
      delete listeners.Release(listeners.default_result_printer());
    }
    listeners.Append(tap);
  }
  if (absl::GetFlag(FLAGS_tcpsem_leak_check)) {
    listeners.Append(new tcpsem::LeakCheckListener);
  }
  // The profile in effect, with every value read back, heads every run.
  // (Not when listing: ctest's test discovery parses that output.)
  if (!GTEST_FLAG_GET(list_tests)) {
    const tcpsem::RunContext& context = listener->context();
    (tap != nullptr && tap->to_stdout() ? std::cerr : std::cout)
        << "tcpsem: kernel " << tcpsem::KernelHeadline(context) << "; "
        << context.profile_description << "\n";
  }
  if (!rootless.ok()) {
    std::cerr << "tcpsem: not root and no user namespace ("
              << rootless.message() << "): tests needing privileges skip\n";
  } else if (tcpsem::RunningRootless()) {
    std::cerr << "tcpsem: rootless: running in a user namespace of our own; "
                 "tracefs and global sysctls are unavailable\n";
  }
  // Before the first test (and its leak check): captures are released in
  // the background (fixtures/base/background_close.h).
  StartBackgroundCloser();
  const int rc = RUN_ALL_TESTS();
  if (tap != nullptr) {  // kselftest exit codes: 0 pass, 1 fail, 4 all skip
    if (rc != 0 || listener->failed()) return tcpsem::kKsftFail;
    return tcpsem::TapExitCode(tap->totals());
  }
  // --- END TAP / leak-check listeners
  return rc != 0 ? rc : (listener->failed() ? 2 : 0);
}

// What every test a warm runner forks shares: the run context, read once
// for the runner's profile, and the background closer.
absl::Status PrepareWarmRunner() {
  if (GlobalSysctlsAllowed()) {
    // A run that may change the host's global sysctls holds the host alone;
    // a runner living beside it would share it.
    return absl::FailedPreconditionError("global sysctls opted in");
  }
  const std::string spec = ProfileSpec();
  if (absl::Status s = SelectRunProfile(spec, /*allow_global=*/false); s.ok()) {
    WarmContextCache() =
        WarmContext{spec, /*allow_global=*/false, ReadContextAsTestsSeeIt()};
  }
  ForgetGlobalLock();
  StartBackgroundCloser();
  return absl::OkStatus();
}

}  // namespace
}  // namespace tcpsem

int main(int argc, char** argv) {
  // First, while the process has one thread: an unprivileged user becomes
  // root of a user namespace of its own (see fixtures/isolation/rootless.h). If
  // that fails, the tests say why they skip.
  const absl::Status rootless = tcpsem::EnterUserNamespaceIfUnprivileged();
  if (std::optional<int> rc = tcpsem::WarmRunnerMain(
          argc, argv, tcpsem::PrepareWarmRunner,
          [rootless](int test_argc, char** test_argv) {
            return tcpsem::RunSuite(test_argc, test_argv, rootless);
          })) {
    return *rc;
  }
  return tcpsem::RunSuite(argc, argv, rootless);
}
