// GoogleTest assertions and matchers for absl::Status and system calls, as
// gVisor's test/util/posix_error.h and test_util.h do them: a failure prints
// the status, or the errno's name, never a bare "false" or -1.
//
//   ASSERT_OK(ApplyProfile(netns, profile));
//   ASSERT_OK_AND_ASSIGN(SocketPair pair, Connect(family));
//   EXPECT_THAT(ParseRecord(text, "x"),
//   StatusIs(absl::StatusCode::kInvalidArgument,
//                                                HasSubstr("schema")));
//   EXPECT_THAT(send(fd, "x", 1, MSG_NOSIGNAL), SyscallFailsWithErrno(EPIPE));
//   EXPECT_THAT(recv(fd, buf, 1, 0), SyscallSucceedsWithValue(1));
#pragma once

#include <cerrno>
#include <ostream>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "fixtures/base/errno_status.h"
#include "fixtures/base/status_macros.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tcpsem {
namespace status_internal {

// For ASSERT_OK / EXPECT_OK: "<expr> is not OK: <status>".
template <typename T>
::testing::AssertionResult IsOkFormat(const char* text, const T& value) {
  const absl::Status& status = GetStatus(value);
  if (status.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << text << " is not OK: " << status;
}

class IsOkMatcher {
 public:
  template <typename T>
  bool MatchAndExplain(const T& actual,
                       ::testing::MatchResultListener* listener) const {
    const absl::Status& status = GetStatus(actual);
    if (!status.ok()) *listener << "whose status is " << status;
    return status.ok();
  }
  void DescribeTo(std::ostream* os) const { *os << "is OK"; }
  void DescribeNegationTo(std::ostream* os) const { *os << "is not OK"; }
};

class StatusIsMatcher {
 public:
  StatusIsMatcher(absl::StatusCode code,
                  ::testing::Matcher<const std::string&> message)
      : code_(code), message_(std::move(message)) {}

  template <typename T>
  bool MatchAndExplain(const T& actual,
                       ::testing::MatchResultListener* listener) const {
    const absl::Status& status = GetStatus(actual);
    *listener << "whose status is " << status;
    if (status.code() != code_) return false;
    ::testing::StringMatchResultListener inner;
    if (!message_.MatchAndExplain(std::string(status.message()), &inner)) {
      if (!inner.str().empty()) *listener << ", message " << inner.str();
      return false;
    }
    return true;
  }
  void DescribeTo(std::ostream* os) const {
    *os << "has status " << absl::StatusCodeToString(code_)
        << " and a message that ";
    message_.DescribeTo(os);
  }
  void DescribeNegationTo(std::ostream* os) const {
    *os << "does not have status " << absl::StatusCodeToString(code_)
        << " or has a message that ";
    message_.DescribeNegationTo(os);
  }

 private:
  absl::StatusCode code_;
  ::testing::Matcher<const std::string&> message_;
};

// A system call's return value: -1 means failed with errno, read at match
// time (right after the call, as EXPECT_THAT evaluates it).
class SyscallResultMatcher {
 public:
  // Succeeds (!= -1) and the value matches `value`; or fails with errno
  // `expected_errno` when that is non-zero.
  SyscallResultMatcher(::testing::Matcher<long long> value, int expected_errno)
      : value_(std::move(value)), expected_errno_(expected_errno) {}

  template <typename T>
  bool MatchAndExplain(T actual,
                       ::testing::MatchResultListener* listener) const {
    const int err = errno;
    const long long result = static_cast<long long>(actual);
    if (result == -1) {
      *listener << "which failed with errno " << ErrnoName(err);
      return expected_errno_ != 0 && err == expected_errno_;
    }
    if (expected_errno_ != 0) {
      *listener << "which succeeded with " << result;
      return false;
    }
    return value_.MatchAndExplain(result, listener);
  }
  void DescribeTo(std::ostream* os) const {
    if (expected_errno_ != 0) {
      *os << "fails with errno " << ErrnoName(expected_errno_);
      return;
    }
    *os << "succeeds with a value that ";
    value_.DescribeTo(os);
  }
  void DescribeNegationTo(std::ostream* os) const {
    if (expected_errno_ != 0) {
      *os << "does not fail with errno " << ErrnoName(expected_errno_);
      return;
    }
    *os << "fails, or succeeds with a value that ";
    value_.DescribeNegationTo(os);
  }

 private:
  ::testing::Matcher<long long> value_;
  int expected_errno_;
};

}  // namespace status_internal

// Matches an absl::Status or absl::StatusOr<T> that is OK.
inline ::testing::PolymorphicMatcher<status_internal::IsOkMatcher> IsOk() {
  return ::testing::MakePolymorphicMatcher(status_internal::IsOkMatcher());
}

// Matches a status (or StatusOr) with `code` and a message matching
// `message` (any message when omitted).
inline ::testing::PolymorphicMatcher<status_internal::StatusIsMatcher> StatusIs(
    absl::StatusCode code,
    ::testing::Matcher<const std::string&> message = ::testing::_) {
  return ::testing::MakePolymorphicMatcher(
      status_internal::StatusIsMatcher(code, std::move(message)));
}

// A system call that did not return -1.
inline ::testing::PolymorphicMatcher<status_internal::SyscallResultMatcher>
SyscallSucceeds() {
  return ::testing::MakePolymorphicMatcher(
      status_internal::SyscallResultMatcher(::testing::_, 0));
}

// A system call that returned a value matching `value` (not -1).
inline ::testing::PolymorphicMatcher<status_internal::SyscallResultMatcher>
SyscallSucceedsWithValue(::testing::Matcher<long long> value) {
  return ::testing::MakePolymorphicMatcher(
      status_internal::SyscallResultMatcher(std::move(value), 0));
}

// A system call that returned -1 with errno `err` (printed by name).
inline ::testing::PolymorphicMatcher<status_internal::SyscallResultMatcher>
SyscallFailsWithErrno(int err) {
  return ::testing::MakePolymorphicMatcher(
      status_internal::SyscallResultMatcher(::testing::_, err));
}

}  // namespace tcpsem

#define EXPECT_OK(expr) \
  EXPECT_PRED_FORMAT1(::tcpsem::status_internal::IsOkFormat, expr)
#define ASSERT_OK(expr) \
  ASSERT_PRED_FORMAT1(::tcpsem::status_internal::IsOkFormat, expr)

// `lhs` may declare a variable ("auto pair") or name an existing one; a
// failure prints the expression and its status and ends the test.
#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  TCPSEM_ASSERT_OK_AND_ASSIGN_IMPL_(    \
      TCPSEM_STATUS_CONCAT_(tcpsem_status_or_, __LINE__), lhs, expr, #expr)

#define TCPSEM_ASSERT_OK_AND_ASSIGN_IMPL_(status_or, lhs, expr, text)         \
  auto status_or = (expr);                                                    \
  if (!status_or.ok())                                                        \
    GTEST_FATAL_FAILURE_("") << text << " is not OK: " << status_or.status(); \
  lhs = *std::move(status_or)
