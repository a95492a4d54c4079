#include "fixtures/reports/ladder.h"

#include <netinet/tcp.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tcpsem {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::vector<Segment> Handshake() {
  return {
      {Phase::kSetup, Direction::kToCloser, TH_SYN, 1000, 0, 65495, 0, 0},
      {Phase::kSetup, Direction::kToPeer, TH_SYN | TH_ACK, 5000, 1001, 65483, 0,
       0},
      {Phase::kSetup, Direction::kToCloser, TH_ACK, 1001, 5001, 512, 0, 0},
  };
}

TEST(LadderTest, DrawsDirectionPhaseAndRelativeNumbers) {
  std::vector<Segment> segments = Handshake();
  segments.push_back({Phase::kClose, Direction::kToPeer, TH_RST | TH_ACK, 5001,
                      1005, 0, 0, 0});
  const std::string ladder = RenderLadder(segments);
  EXPECT_THAT(ladder, HasSubstr("setup    |- SYN      seq=0"));
  EXPECT_THAT(ladder, HasSubstr("close    |<- RST,ACK  seq=1       ack=5"));
}

TEST(LadderTest, FoldsLongSetupDataRuns) {
  std::vector<Segment> segments = Handshake();
  for (int i = 0; i < 50; ++i) {
    segments.push_back({Phase::kSetup, Direction::kToCloser, TH_ACK,
                        1001u + 1000u * i, 5001, 512, 1000, 0});
  }
  segments.push_back({Phase::kClose, Direction::kToPeer, TH_FIN | TH_ACK, 5001,
                      51001, 0, 0, 0});
  const std::string ladder = RenderLadder(segments);
  EXPECT_THAT(ladder, HasSubstr("45 data/ACK segments (45000 bytes) folded"));
  EXPECT_THAT(ladder, HasSubstr("FIN,ACK"));
  EXPECT_THAT(ladder, Not(HasSubstr("seq=49001")));
}

}  // namespace
}  // namespace tcpsem
