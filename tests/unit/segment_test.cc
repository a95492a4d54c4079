// What the wire witness reports a side emitted in a phase.
#include "fixtures/witnesses/segment.h"

#include <netinet/tcp.h>

#include <vector>

#include "gtest/gtest.h"

namespace tcpsem {
namespace {

Segment ToPeer(uint8_t flags, uint32_t seq, uint32_t length = 0) {
  Segment s;
  s.phase = Phase::kShutdown;
  s.direction = Direction::kToPeer;
  s.flags = flags;
  s.seq = seq;
  s.length = length;
  return s;
}

TEST(Emitted, RetransmittedFinCountsOnce) {
  const std::vector<Segment> wire = {ToPeer(TH_FIN | TH_ACK, 100),
                                     ToPeer(TH_FIN | TH_ACK, 100)};
  EXPECT_EQ(Emitted(wire, Direction::kToPeer, Phase::kShutdown), "FIN");
}

TEST(Emitted, FinsAtDifferentSequenceNumbersAreTwo) {
  const std::vector<Segment> wire = {ToPeer(TH_FIN | TH_ACK, 100),
                                     ToPeer(TH_FIN | TH_ACK, 200)};
  EXPECT_EQ(Emitted(wire, Direction::kToPeer, Phase::kShutdown), "FIN,FIN");
}

TEST(Emitted, FinCarryingDataIsThatFinAgainWhenResent) {
  const std::vector<Segment> wire = {ToPeer(TH_FIN | TH_ACK, 100, 10),
                                     ToPeer(TH_FIN | TH_ACK, 100, 10),
                                     ToPeer(TH_RST, 111)};
  EXPECT_EQ(Emitted(wire, Direction::kToPeer, Phase::kShutdown), "FIN,RST");
}

TEST(Emitted, NothingIsADash) {
  EXPECT_EQ(Emitted({}, Direction::kToPeer, Phase::kClose), "-");
}

}  // namespace
}  // namespace tcpsem
