#include "fixtures/witnesses/mib_counters.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/harness/status_matchers.h"

namespace tcpsem {
namespace {

using ::testing::Pair;
using ::testing::UnorderedElementsAre;

TEST(MibCountersTest, KeepsTcpAndTcpExtGroups) {
  absl::StatusOr<MibSnapshot> snapshot = ParseMibTables(
      "Ip: Forwarding DefaultTTL\nIp: 1 64\n"
      "Tcp: RtoAlgorithm MaxConn OutRsts\nTcp: 1 -1 7\n"
      "TcpExt: TCPAbortOnClose TCPAbortOnData\nTcpExt: 3 0\n");
  ASSERT_OK(snapshot);
  EXPECT_THAT(*snapshot, UnorderedElementsAre(
                             Pair("RtoAlgorithm", 1), Pair("MaxConn", -1),
                             Pair("OutRsts", 7), Pair("TCPAbortOnClose", 3),
                             Pair("TCPAbortOnData", 0)));
}

TEST(MibCountersTest, RejectsMismatchedHeaderAndValues) {
  EXPECT_FALSE(ParseMibTables("Tcp: A B\nTcp: 1\n").ok());
  EXPECT_FALSE(ParseMibTables("Tcp: A B\nTcpExt: 1 2\n").ok());
  EXPECT_FALSE(ParseMibTables("Tcp: A\nTcp: x\n").ok());
}

TEST(MibCountersTest, DeltaKeepsOnlyWhatMoved) {
  MibDelta delta = Subtract({{"OutRsts", 5}, {"TCPAbortOnClose", 2}},
                            {{"OutRsts", 4}, {"TCPAbortOnClose", 2}});
  EXPECT_THAT(delta, UnorderedElementsAre(Pair("OutRsts", 1)));
  EXPECT_EQ(DeltaToString(delta), "OutRsts+1");
  EXPECT_EQ(DeltaToString({}), "-");
}

}  // namespace
}  // namespace tcpsem
