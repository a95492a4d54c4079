// The status helpers: early returns pass a status through unchanged, and
// every assertion and matcher prints the status or the errno's name when it
// fails.
#include "tests/harness/status_matchers.h"

#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "fixtures/base/status_macros.h"
#include "gtest/gtest-spi.h"

namespace tcpsem {
namespace {

using ::testing::DescribeMatcher;
using ::testing::HasSubstr;
using ::testing::Not;

absl::StatusOr<int> Number(bool ok) {
  if (!ok) return absl::NotFoundError("no number here");
  return 42;
}

absl::Status Returns(absl::Status status) {
  RETURN_IF_ERROR(status);
  return absl::InternalError("reached the end");
}

absl::Status ReturnsStatusOf(bool ok) {
  RETURN_IF_ERROR(Number(ok));
  return absl::InternalError("reached the end");
}

absl::StatusOr<int> Doubled(bool ok) {
  ASSIGN_OR_RETURN(int n, Number(ok));
  int m = 0;
  ASSIGN_OR_RETURN(m, Number(ok));
  return n + m;
}

TEST(StatusMacros, ReturnIfErrorReturnsTheErrorUnchanged) {
  EXPECT_EQ(Returns(absl::UnavailableError("x")), absl::UnavailableError("x"));
  EXPECT_EQ(Returns(absl::OkStatus()), absl::InternalError("reached the end"));
  EXPECT_EQ(ReturnsStatusOf(false), absl::NotFoundError("no number here"));
  EXPECT_EQ(ReturnsStatusOf(true), absl::InternalError("reached the end"));
}

TEST(StatusMacros, AssignOrReturnAssignsOrReturns) {
  EXPECT_EQ(*Doubled(true), 84);
  EXPECT_EQ(Doubled(false).status(), absl::NotFoundError("no number here"));
}

TEST(StatusMatchers, OkAssertionsPass) {
  ASSERT_OK(absl::OkStatus());
  EXPECT_OK(Number(true));
  ASSERT_OK_AND_ASSIGN(int n, Number(true));
  EXPECT_EQ(n, 42);
  EXPECT_THAT(Number(true), IsOk());
  EXPECT_THAT(Number(false), Not(IsOk()));
}

TEST(StatusMatchers, FailuresPrintTheStatus) {
  EXPECT_NONFATAL_FAILURE(EXPECT_OK(Number(false)),
                          "Number(false) is not OK: NOT_FOUND: no number here");
  EXPECT_FATAL_FAILURE(ASSERT_OK(absl::DataLossError("torn")),
                       "is not OK: DATA_LOSS: torn");
  EXPECT_FATAL_FAILURE(
      {
        ASSERT_OK_AND_ASSIGN(int n, Number(false));
        (void)n;
      },
      "Number(false) is not OK: NOT_FOUND: no number here");
  EXPECT_NONFATAL_FAILURE(EXPECT_THAT(Number(false), IsOk()),
                          "whose status is NOT_FOUND: no number here");
}

TEST(StatusMatchers, StatusIsMatchesCodeAndMessage) {
  const absl::Status status = absl::InvalidArgumentError("bad schema");
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument,
                               HasSubstr("schema")));
  EXPECT_THAT(Number(false), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(status, Not(StatusIs(absl::StatusCode::kNotFound)));
  EXPECT_THAT(status, Not(StatusIs(absl::StatusCode::kInvalidArgument,
                                   HasSubstr("cells"))));
  EXPECT_EQ(DescribeMatcher<absl::Status>(
                StatusIs(absl::StatusCode::kNotFound, HasSubstr("x"))),
            "has status NOT_FOUND and a message that has substring \"x\"");
  EXPECT_NONFATAL_FAILURE(EXPECT_THAT(absl::InvalidArgumentError("bad schema"),
                                      StatusIs(absl::StatusCode::kNotFound)),
                          "whose status is INVALID_ARGUMENT: bad schema");
}

// send() on a stream socket whose other end is closed: EPIPE.
ssize_t SendToClosedPeer() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return 0;
  ::close(fds[1]);
  const ssize_t n = ::send(fds[0], "x", 1, MSG_NOSIGNAL);
  const int err = errno;
  ::close(fds[0]);
  errno = err;
  return n;
}

TEST(SyscallMatchers, MatchResultAndErrno) {
  EXPECT_THAT(SendToClosedPeer(), SyscallFailsWithErrno(EPIPE));
  EXPECT_THAT(::getpid(), SyscallSucceeds());
  EXPECT_THAT(::close(::dup(STDIN_FILENO)), SyscallSucceedsWithValue(0));
  EXPECT_THAT(::close(-1), Not(SyscallSucceeds()));
  EXPECT_THAT(::close(-1), Not(SyscallFailsWithErrno(EPIPE)));
}

TEST(SyscallMatchers, FailuresPrintErrnoNames) {
  EXPECT_NONFATAL_FAILURE(EXPECT_THAT(::close(-1), SyscallSucceeds()),
                          "which failed with errno EBADF");
  EXPECT_NONFATAL_FAILURE(
      EXPECT_THAT(SendToClosedPeer(), SyscallFailsWithErrno(ECONNRESET)),
      "Expected: fails with errno ECONNRESET\n");
  EXPECT_NONFATAL_FAILURE(
      EXPECT_THAT(SendToClosedPeer(), SyscallFailsWithErrno(ECONNRESET)),
      "which failed with errno EPIPE");
  EXPECT_NONFATAL_FAILURE(EXPECT_THAT(::getpid(), SyscallFailsWithErrno(EPIPE)),
                          "which succeeded with");
  EXPECT_NONFATAL_FAILURE(EXPECT_THAT(::getpid(), SyscallSucceedsWithValue(-2)),
                          "succeeds with a value that is equal to -2");
}

}  // namespace
}  // namespace tcpsem
