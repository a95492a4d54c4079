#include "fixtures/gtest/tap_listener.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

#include "absl/status/status.h"
#include "fixtures/gtest/leak_check_listener.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/harness/status_matchers.h"

namespace tcpsem {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(TapResultLineTest, PassFailAndSkip) {
  EXPECT_EQ(TapResultLine(1, true, "A.b", false, ""), "ok 1 A.b");
  EXPECT_EQ(TapResultLine(2, false, "A/B.c/V4", false, ""),
            "not ok 2 A/B.c/V4");
  EXPECT_EQ(TapResultLine(3, true, "A.b", true, "no netns\nmore"),
            "ok 3 A.b # SKIP no netns");
  EXPECT_EQ(TapResultLine(4, true, "A.b", true, ""), "ok 4 A.b # SKIP");
}

TEST(TapResultLineTest, EscapesHashInName) {
  EXPECT_EQ(TapResultLine(1, true, "A.b#c", false, ""), "ok 1 A.b\\#c");
}

TEST(TapDiagnosticLinesTest, PrefixesEveryLine) {
  EXPECT_THAT(TapDiagnosticLines("x\n\ny\n"), ElementsAre("# x", "#", "# y"));
}

TEST(TapTotalsLineTest, KselftestFormat) {
  EXPECT_EQ(TapTotalsLine({.pass = 3, .fail = 1, .skip = 2}),
            "# Totals: pass:3 fail:1 xfail:0 xpass:0 skip:2 error:0");
}

TEST(TapExitCodeTest, KselftestCodes) {
  EXPECT_EQ(TapExitCode({.pass = 2, .fail = 0, .skip = 1}), kKsftPass);
  EXPECT_EQ(TapExitCode({.pass = 2, .fail = 1, .skip = 1}), kKsftFail);
  EXPECT_EQ(TapExitCode({.pass = 0, .fail = 0, .skip = 3}), kKsftSkip);
  EXPECT_EQ(TapExitCode({.pass = 0, .fail = 1, .skip = 3}), kKsftFail);
  EXPECT_EQ(TapExitCode({}), kKsftPass);
}

TEST(LeakCheckTest, NothingLeakedIsOk) {
  const LeakSnapshot before = TakeLeakSnapshot();
  EXPECT_OK(CheckNothingLeaked(before));
}

TEST(LeakCheckTest, DetectsLeakedDescriptor) {
  const LeakSnapshot before = TakeLeakSnapshot();
  const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  const absl::Status leaked = CheckNothingLeaked(before);
  ::close(fd);
  EXPECT_EQ(leaked.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(leaked.message(), HasSubstr("/dev/null"));
  EXPECT_OK(CheckNothingLeaked(before));
}

TEST(LeakCheckTest, DetectsLeakedChildProcess) {
  const LeakSnapshot before = TakeLeakSnapshot();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::pause();
    ::_exit(0);
  }
  ASSERT_GT(pid, 0);
  const absl::Status leaked = CheckNothingLeaked(before);
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  EXPECT_THAT(leaked.message(), HasSubstr("child process"));
  EXPECT_OK(CheckNothingLeaked(before));
}

}  // namespace
}  // namespace tcpsem
