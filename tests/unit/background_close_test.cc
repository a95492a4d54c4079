#include "fixtures/base/background_close.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include "gtest/gtest.h"

namespace tcpsem {
namespace {

// A pipe's write end handed to the closer: gone from this process at once,
// closed by the closer later (its hold, then the release), so the read end
// sees end of file.
TEST(BackgroundCloseTest, TheCloserClosesWhatItIsHanded) {
  StartBackgroundCloser();
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  UniqueFd read_end(fds[0]);
  const int write_fd = fds[1];
  CloseInBackground(UniqueFd(write_fd));
  EXPECT_EQ(::fcntl(write_fd, F_GETFD), -1) << "still open in this process";
  pollfd p = {read_end.get(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 5000), 1) << "the closer never closed it";
  char byte;
  EXPECT_EQ(::read(read_end.get(), &byte, 1), 0) << "expected end of file";
}

}  // namespace
}  // namespace tcpsem
