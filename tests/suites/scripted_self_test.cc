// Can the scripted peer's expectations fail? (issue 12, item 5.) Each test
// stages a real exchange with a fault injected (the staging reads the data a
// rule needs unread; a wrong timing bucket; a segment where quiet is
// expected; a malformed segment) and asserts that the wire and timing
// expectations report it, with the message a reader would need.
#include <sys/socket.h>

#include "fixtures/peers/scripted/handshake.h"
#include "fixtures/peers/scripted/scripted_peer_test.h"
#include "fixtures/peers/scripted/segment_matchers.h"
#include "fixtures/staging/socket_pair.h"
#include "gmock/gmock.h"
#include "gtest/gtest-spi.h"
#include "tests/harness/witness_registry.h"

namespace tcpsem {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

class ScriptedSelfTest : public ScriptedPeerTest,
                         public ::testing::WithParamInterface<IpFamily> {
 protected:
  UniqueFd Open() { return StartAndAccept(GetParam()); }
};

// withheld-ack.unread-rst with the fault "the staging reads the data before
// close()": nothing is unread, so close() in FIN_WAIT1 sends no RST, and the
// RST expectation must say so.
// The scripted peer's suites read the wire from the TUN device (its own
// capture); what they do not ask yet is said here, never by omission.
TCPSEM_DECLARE_WITNESSES(
    ScriptedSelfTest,
    {{Witness::kWire, kAsked},
     {Witness::kPeerApi,
      "n/a: a self-test of the wire and timing expectations"},
     {Witness::kCounters,
      "n/a: a self-test of the wire and timing expectations"},
     {Witness::kSockDiag,
      "n/a: a self-test of the wire and timing expectations"},
     {Witness::kResetReason,
      "n/a: a self-test of the wire and timing expectations"}});

TEST_P(ScriptedSelfTest, RstExpectationReportsDataReadFirst) {
  UniqueFd fd = Open();
  if (!fd.valid()) return;
  ASSERT_THAT(peer().Inject(Seg("P.").Data("abc"), "data"), IsOk());
  ASSERT_THAT(peer().Next(kSegmentTimeout), IsOkAndHolds(Flags(".")));
  peer().Stimulus("shutdown(SHUT_WR)");
  ASSERT_EQ(::shutdown(fd.get(), SHUT_WR), 0);
  peer().StimulusReturned();
  ASSERT_THAT(peer().Next(kSegmentTimeout), IsOkAndHolds(Flags("F.")));
  char buffer[3];
  ASSERT_EQ(::recv(fd.get(), buffer, sizeof(buffer), 0), 3);  // the fault
  peer().Stimulus("close()");
  fd.reset();
  peer().StimulusReturned();
  EXPECT_NONFATAL_FAILURE(EXPECT_THAT(peer().Next(kQuietDelayedAckScale),
                                      IsOkAndHolds(AllOf(Flags("R."), Seq(2)))),
                          "flags are R.");
}

// A measured delay checked against a bucket it is not in must fail, naming
// both; the same observation doctored into another bucket must fail too.
TEST_P(ScriptedSelfTest, TimingExpectationReportsWrongBucket) {
  UniqueFd fd = Open();
  if (!fd.valid()) return;
  ASSERT_THAT(peer().Inject(Seg("P.").Data("abc"), "data"), IsOk());
  absl::StatusOr<ExchangedSegment> ack = peer().Next(kSegmentTimeout);
  ASSERT_THAT(ack, IsOkAndHolds(Flags(".")));
  const TimingBucket wrong = ack->bucket() == TimingBucket::kImmediate
                                 ? TimingBucket::kRtoOrProbe
                                 : TimingBucket::kImmediate;
  EXPECT_NONFATAL_FAILURE(EXPECT_THAT(*ack, Within(wrong)),
                          TimingBucketName(ack->bucket()));
  ExchangedSegment doctored = *ack;
  doctored.since_stimulus = absl::Milliseconds(100);
  EXPECT_THAT(doctored, Within(TimingBucket::kDelayedAck));
  EXPECT_NONFATAL_FAILURE(
      EXPECT_THAT(doctored, Within(TimingBucket::kImmediate)),
      "which left 100ms after data, delayed-ack");
}

// A quiet period in which the kernel does send must fail, naming the segment.
TEST_P(ScriptedSelfTest, QuietPeriodReportsASegment) {
  UniqueFd fd = Open();
  if (!fd.valid()) return;
  peer().Stimulus("shutdown(SHUT_WR)");
  ASSERT_EQ(::shutdown(fd.get(), SHUT_WR), 0);
  peer().StimulusReturned();
  const absl::Status quiet =
      peer().ExpectQuiet(kQuietDelayedAckScale, "the fault");
  EXPECT_TRUE(absl::IsFailedPrecondition(quiet)) << quiet;
  EXPECT_THAT(quiet.message(), HasSubstr("F. seq 1:1(0) ack 1"));
  EXPECT_NONFATAL_FAILURE(EXPECT_THAT(quiet, IsOk()), "the fault");
}

// A malformed segment is a failure with a message, never a crash.
TEST_P(ScriptedSelfTest, MalformedSegmentIsReported) {
  UniqueFd fd = Open();
  if (!fd.valid()) return;
  EXPECT_THAT(peer().Inject(Seg("SX")).message(),
              HasSubstr("unknown flag 'X'"));
  EXPECT_THAT(peer().Inject(Seg("P.").Data(std::string(1500, 'x'))).message(),
              HasSubstr("MTU"));
  EXPECT_THAT(peer().Inject(Seg("R").Ack(3)).message(),
              HasSubstr("no ACK flag"));
  TcpOptions too_many;
  too_many.sack_blocks.assign(5, {1, 2});
  EXPECT_THAT(peer().Inject(Seg(".").Options(too_many)).message(),
              HasSubstr("at most 40"));
  EXPECT_NONFATAL_FAILURE(EXPECT_THAT(peer().Inject(Seg("Z")), IsOk()),
                          "unknown flag 'Z'");
}

INSTANTIATE_TEST_SUITE_P(ScriptedSelfTest, ScriptedSelfTest,
                         ::testing::Values(IpFamily::kV4, IpFamily::kV6),
                         IpFamilyParamName());

}  // namespace
}  // namespace tcpsem
