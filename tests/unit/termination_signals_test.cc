// The termination handler (fixtures/base/termination_signals.h): on SIGTERM
// and SIGINT it removes the registered directories and runs the registered
// steps, then the signal ends the process as it would have. Each case runs
// in a forked child so the handler never touches the test process.
#include "fixtures/base/termination_signals.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "gtest/gtest.h"

namespace tcpsem {
namespace {

int g_marker_fd = -1;
void WriteMarker() {
  const char byte = 'x';
  (void)!::write(g_marker_fd, &byte, 1);
}

// Forks a child that registers `dir` (and `unregister` it again if asked)
// plus a step writing to a pipe, then raises `sig`. Returns the child's wait
// status and whether the step ran.
int RunChild(const std::string& dir, int sig, bool unregister, bool* step_ran) {
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    g_marker_fd = fds[1];
    AddTerminationStep(WriteMarker);
    const int slot = RegisterTerminationRmdir(dir);
    if (slot < 0) ::_exit(3);
    if (unregister) UnregisterTerminationRmdir(slot);
    ::raise(sig);
    ::_exit(4);  // not reached: the signal ends the process
  }
  ::close(fds[1]);
  int status = 0;
  EXPECT_EQ(::waitpid(pid, &status, 0), pid);
  char byte = 0;
  *step_ran = ::read(fds[0], &byte, 1) == 1;
  ::close(fds[0]);
  return status;
}

class TerminationSignalsTest : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    // A private directory (mkdtemp: 0700, created exclusively).
    std::string pattern = ::testing::TempDir() + "/tcpsem-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { ::rmdir(dir_.c_str()); }
  bool Exists() const {
    struct stat st;
    return ::stat(dir_.c_str(), &st) == 0;
  }
  std::string dir_;
};

TEST_P(TerminationSignalsTest, RemovesTheDirectoryRunsTheStepAndDies) {
  bool step_ran = false;
  const int status = RunChild(dir_, GetParam(), false, &step_ran);
  ASSERT_TRUE(WIFSIGNALED(status)) << "exit status " << WEXITSTATUS(status);
  EXPECT_EQ(WTERMSIG(status), GetParam());
  EXPECT_TRUE(step_ran);
  EXPECT_FALSE(Exists()) << dir_ << " was left behind";
}

TEST_P(TerminationSignalsTest, LeavesAnUnregisteredDirectoryAlone) {
  bool step_ran = false;
  const int status = RunChild(dir_, GetParam(), true, &step_ran);
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_TRUE(step_ran);
  EXPECT_TRUE(Exists());
}

INSTANTIATE_TEST_SUITE_P(Signals, TerminationSignalsTest,
                         ::testing::Values(SIGTERM, SIGINT),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return std::string(sigabbrev_np(info.param));
                         });

}  // namespace
}  // namespace tcpsem
