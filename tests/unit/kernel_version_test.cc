#include "fixtures/base/kernel_version.h"

#include "gmock/gmock.h"
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

TEST(UpstreamKernelTest, DebianStatesTheUpstreamVersionInUnameV) {
  absl::StatusOr<UpstreamKernel> k = ResolveUpstreamKernel(
      "6.1.0-28-cloud-amd64",
      "#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-3 (2025-05-01)", "");
  ASSERT_TRUE(k.ok()) << k.status();
  EXPECT_EQ(k->version.ToString(), "6.1.192");
  EXPECT_EQ(k->source, "uname -v: Debian 6.1.192-3");
  EXPECT_EQ(k->Describe(), "6.1.192 (from uname -v: Debian 6.1.192-3)");
}

TEST(UpstreamKernelTest, DebianBackportsParseToo) {
  absl::StatusOr<UpstreamKernel> k = ResolveUpstreamKernel(
      "6.12.57+deb12-cloud-amd64",
      "#1 SMP PREEMPT_DYNAMIC Debian 6.12.57-1~bpo12+1 (2025-11-05)", "");
  ASSERT_TRUE(k.ok()) << k.status();
  EXPECT_EQ(k->version.ToString(), "6.12.57");
}

TEST(UpstreamKernelTest, UbuntuStatesItInVersionSignature) {
  absl::StatusOr<UpstreamKernel> k = ResolveUpstreamKernel(
      "5.15.0-91-generic", "#101-Ubuntu SMP Tue Nov 14 13:30:08 UTC 2023",
      "Ubuntu 5.15.0-91.101-generic 5.15.131\n");
  ASSERT_TRUE(k.ok()) << k.status();
  EXPECT_EQ(k->version.ToString(), "5.15.131");
  EXPECT_EQ(k->source,
            "/proc/version_signature: Ubuntu 5.15.0-91.101-generic 5.15.131");
}

TEST(UpstreamKernelTest, UpstreamAndFedoraFallBackToUnameR) {
  absl::StatusOr<UpstreamKernel> fedora = ResolveUpstreamKernel(
      "6.5.6-300.fc39.x86_64",
      "#1 SMP PREEMPT_DYNAMIC Fri Oct  6 19:57:21 UTC 2023", "");
  ASSERT_TRUE(fedora.ok()) << fedora.status();
  EXPECT_EQ(fedora->version.ToString(), "6.5.6");
  EXPECT_EQ(fedora->source, "uname -r: 6.5.6-300.fc39.x86_64");
  absl::StatusOr<UpstreamKernel> own =
      ResolveUpstreamKernel("6.18.44-fc-v669", "#1 SMP Debian-like", "");
  ASSERT_TRUE(own.ok()) << own.status();
  EXPECT_EQ(own->version.ToString(), "6.18.44");
}

TEST(UpstreamKernelTest, AMalformedDistributionFieldFallsBackToUnameR) {
  // "Debian" followed by something that is not a version, and an Ubuntu
  // signature without one: neither is trusted.
  absl::StatusOr<UpstreamKernel> k = ResolveUpstreamKernel(
      "6.1.0-28-cloud-amd64", "#1 SMP Debian unstable", "Ubuntu garbage");
  ASSERT_TRUE(k.ok()) << k.status();
  EXPECT_EQ(k->version.ToString(), "6.1.0");
  EXPECT_EQ(k->source, "uname -r: 6.1.0-28-cloud-amd64");
}

TEST(UpstreamKernelTest, AnUnknownVersionStringIsAnError) {
  absl::StatusOr<UpstreamKernel> k = ResolveUpstreamKernel("linux", "", "");
  ASSERT_FALSE(k.ok());
  EXPECT_THAT(std::string(k.status().message()),
              ::testing::HasSubstr("cannot tell the kernel's version"));
}

TEST(UpstreamKernelTest, TheRunningKernelResolves) {
  absl::StatusOr<UpstreamKernel> k = RunningKernel();
  ASSERT_TRUE(k.ok()) << k.status();
  EXPECT_GE(k->version.major, 3);
  EXPECT_FALSE(k->source.empty());
}

}  // namespace
}  // namespace tcpsem
