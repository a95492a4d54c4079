#include "fixtures/base/kernel_version.h"

#include "gtest/gtest.h"

namespace tcpsem {
namespace {

TEST(KernelVersionTest, ParsesDistributionReleases) {
  EXPECT_EQ(ParseKernelRelease("6.18.44-fc-v669")->ToString(), "6.18.44");
  EXPECT_EQ(ParseKernelRelease("6.1.0-28-cloud-amd64")->ToString(), "6.1.0");
  EXPECT_EQ(ParseKernelRelease("6.12.57+deb12-cloud-amd64")->ToString(),
            "6.12.57");
  EXPECT_EQ(ParseKernelRelease("6.10")->ToString(), "6.10.0");
}

TEST(KernelVersionTest, OrdersNumerically) {
  EXPECT_LT(*ParseKernelRelease("6.9.1"), *ParseKernelRelease("6.10.0"));
  EXPECT_GT(*ParseKernelRelease("6.18.0"), *ParseKernelRelease("6.12.57"));
}

TEST(KernelVersionTest, RejectsGarbage) {
  EXPECT_FALSE(ParseKernelRelease("").ok());
  EXPECT_FALSE(ParseKernelRelease("linux").ok());
  EXPECT_FALSE(ParseKernelRelease("6").ok());
}

}  // namespace
}  // namespace tcpsem
