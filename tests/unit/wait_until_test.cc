#include "fixtures/base/wait_until.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "absl/time/clock.h"
#include "fixtures/base/unique_fd.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tcpsem {
namespace {

using ::testing::HasSubstr;

// With no wake descriptor, the condition is re-checked every `recheck`. A
// 1 ms interval never ends early, so the shortest of 19 gaps between checks
// tells a 50 us re-check from the default even on a loaded machine.
TEST(WaitUntilTest, RechecksAtTheIntervalAsked) {
  std::vector<absl::Time> checks;
  absl::Status s = WaitUntil(
      [&]() -> absl::StatusOr<bool> {
        checks.push_back(absl::Now());
        return checks.size() == 20;
      },
      absl::Seconds(5), "twenty checks", -1, 0, absl::Microseconds(50));
  EXPECT_TRUE(s.ok()) << s;
  ASSERT_EQ(checks.size(), 20u);
  absl::Duration shortest = absl::InfiniteDuration();
  for (size_t i = 1; i < checks.size(); ++i) {
    shortest = std::min(shortest, checks[i] - checks[i - 1]);
  }
  EXPECT_LT(shortest, kRecheckInterval / 2);
}

// A condition that never holds ends in DeadlineExceeded naming what was
// awaited; an error from the condition ends the wait with that error.
TEST(WaitUntilTest, DeadlineAndErrorsEndTheWait) {
  absl::Status never = WaitUntil([] { return absl::StatusOr<bool>(false); },
                                 absl::Milliseconds(20), "the impossible");
  EXPECT_TRUE(absl::IsDeadlineExceeded(never)) << never;
  EXPECT_THAT(std::string(never.message()), HasSubstr("the impossible"));
  absl::Status failed = WaitUntil(
      [] { return absl::StatusOr<bool>(absl::InternalError("broken")); },
      absl::Seconds(5), "anything");
  EXPECT_TRUE(absl::IsInternal(failed)) << failed;
}

// The wake descriptor ends a wait at once: a pipe made readable by the
// condition's first check is seen well before the 1 s re-check would come.
TEST(WaitUntilTest, TheWakeDescriptorEndsTheWaitAtOnce) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC | O_NONBLOCK), 0);
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  int checks = 0;
  const absl::Time start = absl::Now();
  absl::Status s = WaitUntil(
      [&]() -> absl::StatusOr<bool> {
        if (++checks == 1) {
          EXPECT_EQ(::write(write_end.get(), "x", 1), 1);
          return false;
        }
        return true;
      },
      absl::Seconds(5), "the pipe", read_end.get(), POLLIN, absl::Seconds(1));
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(500));
}

}  // namespace
}  // namespace tcpsem
