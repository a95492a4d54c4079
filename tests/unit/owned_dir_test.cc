// Directories root writes into on a shared machine: created or trusted only
// when they are real directories of this user that nobody else can write.
#include "fixtures/base/owned_dir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "fixtures/config/suite_flags.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tcpsem {
namespace {

using ::testing::HasSubstr;

class OwnedDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to chown to nobody";
    base_ = absl::StrCat("owned-dir-test-", ::getpid());
    ASSERT_EQ(::mkdir(base_.c_str(), 0700), 0);
  }
  void TearDown() override {
    if (!base_.empty()) {
      std::string cmd = absl::StrCat("rm -rf ", base_);
      ASSERT_EQ(std::system(cmd.c_str()), 0);
    }
  }
  std::string base_;
};

TEST_F(OwnedDirTest, CreatesAMissingDirectoryWithTheGivenMode) {
  const std::string dir = base_ + "/new";
  absl::StatusOr<UniqueFd> fd = OpenOwnedDir(dir, {.create_mode = 0700});
  ASSERT_TRUE(fd.ok()) << fd.status();
  struct stat st = {};
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
}

TEST_F(OwnedDirTest, RefusesWhatAnotherUserCouldControl) {
  const std::string other = base_ + "/other";
  ASSERT_EQ(::mkdir(other.c_str(), 0700), 0);
  ASSERT_EQ(::chown(other.c_str(), 65534, 65534), 0);
  EXPECT_THAT(std::string(OpenOwnedDir(other).status().message()),
              HasSubstr("other: owned by uid 65534, not 0"));

  const std::string open = base_ + "/open";
  ASSERT_EQ(::mkdir(open.c_str(), 0700), 0);
  ASSERT_EQ(::chmod(open.c_str(), 01777), 0);
  EXPECT_THAT(
      std::string(
          OpenOwnedDir(open, {.forbidden_bits = 0022}).status().message()),
      HasSubstr("open: mode 1777 lets others in"));

  const std::string link = base_ + "/link";
  ASSERT_EQ(::symlink("/etc", link.c_str()), 0);
  EXPECT_THAT(std::string(OpenOwnedDir(link).status().message()),
              HasSubstr("link: a symbolic link, not a directory"));

  const std::string file = base_ + "/file";
  ASSERT_EQ(::close(::open(file.c_str(), O_CREAT | O_WRONLY, 0600)), 0);
  EXPECT_THAT(std::string(OpenOwnedDir(file).status().message()),
              HasSubstr("file: not a directory"));
}

TEST_F(OwnedDirTest, ArtifactsDirectoryOfAnotherUserIsRefused) {
  const std::string dir = base_ + "/artifacts";
  absl::SetFlag(&FLAGS_tcpsem_artifacts, dir);
  EXPECT_TRUE(PrepareArtifactsDir().ok());
  ASSERT_EQ(::chown(dir.c_str(), 65534, 65534), 0);
  EXPECT_THAT(std::string(PrepareArtifactsDir().message()),
              HasSubstr("artifacts: owned by uid 65534"));
  absl::SetFlag(&FLAGS_tcpsem_artifacts, "");
}

}  // namespace
}  // namespace tcpsem
