// WriteMode::kReplace: the file is written through an exclusively created
// path.tmp, never through a link, and a stale tmp is removed only when it is
// our own regular file.
#include "fixtures/base/text_file.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/harness/status_matchers.h"

namespace tcpsem {
namespace {

using ::testing::HasSubstr;

// A private directory (mkdtemp: mode 0700, created exclusively), removed
// with what the test left in it.
class ReplaceFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = absl::StrCat(::testing::TempDir(), "/tcpsem-XXXXXX");
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr) << "mkdtemp: " << errno;
    dir_ = pattern;
  }
  void TearDown() override {
    for (const char* name : {"out", "out.tmp", "victim"}) {
      ::unlink(Path(name).c_str());
    }
    ::rmdir(Path("out.tmp").c_str());
    EXPECT_EQ(::rmdir(dir_.c_str()), 0) << "left files behind in " << dir_;
  }
  std::string Path(const std::string& name) const {
    return absl::StrCat(dir_, "/", name);
  }
  std::string dir_;
};

TEST_F(ReplaceFileTest, WritesAndReplacesWholeWithMode0644) {
  ASSERT_OK(WriteTextFile(Path("out"), "old", WriteMode::kReplace));
  absl::Status s = WriteTextFile(Path("out"), "new text", WriteMode::kReplace);
  ASSERT_OK(s);
  EXPECT_EQ(*ReadTextFile(Path("out")), "new text");
  struct stat st = {};
  ASSERT_EQ(::stat(Path("out").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777 & ~0022u, 0644u & ~0022u);
  EXPECT_NE(::access(Path("out.tmp").c_str(), F_OK), 0) << "tmp left behind";
}

TEST_F(ReplaceFileTest, RemovesAStaleTmpOfOurOwn) {
  ASSERT_OK(WriteTextFile(Path("out.tmp"), "stale"));
  absl::Status s = WriteTextFile(Path("out"), "fresh", WriteMode::kReplace);
  ASSERT_OK(s);
  EXPECT_EQ(*ReadTextFile(Path("out")), "fresh");
}

TEST_F(ReplaceFileTest, NeverWritesThroughALinkAtTmp) {
  ASSERT_OK(WriteTextFile(Path("victim"), "precious"));
  ASSERT_EQ(::symlink(Path("victim").c_str(), Path("out.tmp").c_str()), 0);
  absl::Status s = WriteTextFile(Path("out"), "evil", WriteMode::kReplace);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("open(" + Path("out.tmp") + ")"));
  EXPECT_EQ(*ReadTextFile(Path("victim")), "precious");
  EXPECT_NE(::access(Path("out").c_str(), F_OK), 0);
}

TEST_F(ReplaceFileTest, LeavesADirectoryAtTmpAlone) {
  ASSERT_EQ(::mkdir(Path("out.tmp").c_str(), 0700), 0);
  absl::Status s = WriteTextFile(Path("out"), "x", WriteMode::kReplace);
  ASSERT_FALSE(s.ok());
  struct stat st = {};
  ASSERT_EQ(::lstat(Path("out.tmp").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
}

}  // namespace
}  // namespace tcpsem
