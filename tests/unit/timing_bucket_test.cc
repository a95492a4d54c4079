#include "fixtures/peers/scripted/timing_bucket.h"

#include "gtest/gtest.h"

namespace tcpsem {
namespace {

TEST(TimingBucketTest, BoundsComeFromTheKernelsTimers) {
  // include/net/tcp.h: TCP_DELACK_MIN = HZ/25, TCP_DELACK_MAX = TCP_RTO_MIN
  // = HZ/5.
  EXPECT_EQ(kTcpDelackMin, absl::Milliseconds(40));
  EXPECT_EQ(kTcpDelackMax, absl::Milliseconds(200));
  EXPECT_EQ(kTcpRtoMin, absl::Milliseconds(200));
  EXPECT_EQ(kImmediateBelow, absl::Milliseconds(20));
  EXPECT_GT(kQuietDelayedAckScale, kTcpDelackMax);
}

TEST(TimingBucketTest, ClassifiesEachSideOfEachBound) {
  EXPECT_EQ(ClassifyDelay(absl::ZeroDuration()), TimingBucket::kImmediate);
  EXPECT_EQ(ClassifyDelay(absl::Microseconds(300)), TimingBucket::kImmediate);
  EXPECT_EQ(ClassifyDelay(absl::Milliseconds(20) - absl::Nanoseconds(1)),
            TimingBucket::kImmediate);
  EXPECT_EQ(ClassifyDelay(absl::Milliseconds(20)), TimingBucket::kDelayedAck);
  EXPECT_EQ(ClassifyDelay(absl::Milliseconds(40)), TimingBucket::kDelayedAck);
  EXPECT_EQ(ClassifyDelay(absl::Milliseconds(199)), TimingBucket::kDelayedAck);
  EXPECT_EQ(ClassifyDelay(absl::Milliseconds(200)), TimingBucket::kRtoOrProbe);
  EXPECT_EQ(ClassifyDelay(absl::Seconds(1)), TimingBucket::kRtoOrProbe);
  EXPECT_EQ(ClassifyDelay(absl::Seconds(120)), TimingBucket::kRtoOrProbe);
}

TEST(TimingBucketTest, NamesAreStableAndDescriptionsCarryBounds) {
  EXPECT_EQ(TimingBucketName(TimingBucket::kImmediate), "immediate");
  EXPECT_EQ(TimingBucketName(TimingBucket::kDelayedAck), "delayed-ack");
  EXPECT_EQ(TimingBucketName(TimingBucket::kRtoOrProbe), "rto-probe");
  EXPECT_EQ(TimingBucketDescription(TimingBucket::kImmediate),
            "immediate (< 20ms)");
  EXPECT_EQ(TimingBucketDescription(TimingBucket::kDelayedAck),
            "delayed-ack (20ms .. 200ms)");
  EXPECT_EQ(TimingBucketDescription(TimingBucket::kRtoOrProbe),
            "rto-probe (>= 200ms)");
}

}  // namespace
}  // namespace tcpsem
