#include "fixtures/peers/scripted/tcp_packet.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tcpsem {
namespace {

using ::testing::HasSubstr;

TcpPacket Sample(IpFamily family) {
  TcpPacket p;
  p.source = family == IpFamily::kV4 ? IpAddress::V4("192.0.2.2")
                                     : IpAddress::V6("2001:db8::2");
  p.destination = family == IpFamily::kV4 ? IpAddress::V4("192.0.2.1")
                                          : IpAddress::V6("2001:db8::1");
  p.source_port = 40000;
  p.destination_port = 8080;
  p.seq = 0xfffffff0;
  p.ack = 12345;
  p.flags = kTcpAck | kTcpPsh;
  p.window = 512;
  p.options.timestamp = {7, 9};
  p.options.sack_blocks = {{100, 200}};
  p.payload = "hello";
  return p;
}

TEST(TcpPacketTest, RoundTripsBothFamiliesWithValidChecksums) {
  for (IpFamily family : {IpFamily::kV4, IpFamily::kV6}) {
    const TcpPacket p = Sample(family);
    absl::StatusOr<std::vector<uint8_t>> bytes = EncodeTcpPacket(p);
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    absl::StatusOr<TcpPacket> back = DecodeTcpPacket(*bytes);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(back->source, p.source);
    EXPECT_EQ(back->destination, p.destination);
    EXPECT_EQ(back->seq, p.seq);
    EXPECT_EQ(back->ack, p.ack);
    EXPECT_EQ(back->flags, p.flags);
    EXPECT_EQ(back->window, p.window);
    EXPECT_EQ(back->payload, "hello");
    EXPECT_EQ(back->options.timestamp, p.options.timestamp);
    EXPECT_EQ(back->options.sack_blocks, p.options.sack_blocks);
    EXPECT_EQ(back->SequenceLength(), 5u);
  }
}

TEST(TcpPacketTest, SynOptionsInLinuxOrder) {
  TcpPacket p = Sample(IpFamily::kV4);
  p.flags = kTcpSyn;
  p.payload.clear();
  p.options = {};
  p.options.mss = 1460;
  p.options.sack_permitted = true;
  p.options.timestamp = {1, 0};
  p.options.window_scale = 7;
  absl::StatusOr<std::vector<uint8_t>> bytes = EncodeTcpPacket(p);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  // 20 bytes IP + 20 TCP + mss 4, sackOK 2, TS 10, nop+wscale 4 = 60.
  EXPECT_EQ(bytes->size(), 60u);
  absl::StatusOr<TcpPacket> back = DecodeTcpPacket(*bytes);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->options.mss, 1460);
  EXPECT_TRUE(back->options.sack_permitted);
  EXPECT_EQ(back->options.window_scale, 7);
  EXPECT_EQ(back->SequenceLength(), 1u);
}

TEST(TcpPacketTest, CorruptionIsReportedNotCrashed) {
  absl::StatusOr<std::vector<uint8_t>> bytes =
      EncodeTcpPacket(Sample(IpFamily::kV6));
  ASSERT_TRUE(bytes.ok());
  std::vector<uint8_t> flipped = *bytes;
  flipped.back() ^= 0x01;
  EXPECT_THAT(DecodeTcpPacket(flipped).status().message(),
              HasSubstr("checksum"));
  std::vector<uint8_t> truncated(bytes->begin(), bytes->begin() + 30);
  EXPECT_FALSE(DecodeTcpPacket(truncated).ok());
  EXPECT_FALSE(DecodeTcpPacket({}).ok());
  EXPECT_FALSE(DecodeTcpPacket({0x20, 0, 0}).ok());
  std::vector<uint8_t> udp = *EncodeTcpPacket(Sample(IpFamily::kV4));
  udp[9] = 17;
  EXPECT_TRUE(absl::IsNotFound(DecodeTcpPacket(udp).status()));
}

TEST(TcpPacketTest, MalformedSegmentsAreInvalidArgument) {
  TcpPacket mixed = Sample(IpFamily::kV4);
  mixed.destination = IpAddress::V6("2001:db8::1");
  EXPECT_THAT(EncodeTcpPacket(mixed).status().message(),
              HasSubstr("mixes address families"));
  TcpPacket big = Sample(IpFamily::kV4);
  big.payload.assign(2000, 'x');
  EXPECT_THAT(EncodeTcpPacket(big).status().message(), HasSubstr("MTU"));
  TcpPacket options = Sample(IpFamily::kV4);
  options.options.sack_blocks.assign(4, {1, 2});
  EXPECT_THAT(EncodeTcpPacket(options).status().message(),
              HasSubstr("at most 40"));
}

TEST(TcpPacketTest, FlagNotationAsPacketdrillWritesIt) {
  EXPECT_EQ(*ParseFlagNotation("S."), kTcpSyn | kTcpAck);
  EXPECT_EQ(*ParseFlagNotation("R"), kTcpRst);
  EXPECT_EQ(*ParseFlagNotation("FP."), kTcpFin | kTcpPsh | kTcpAck);
  EXPECT_EQ(FlagNotation(kTcpRst | kTcpAck), "R.");
  EXPECT_EQ(FlagNotation(kTcpFin | kTcpPsh | kTcpAck), "FP.");
  EXPECT_EQ(FlagNotation(0), "none");
  EXPECT_THAT(ParseFlagNotation("SX").status().message(),
              HasSubstr("unknown flag 'X'"));
}

}  // namespace
}  // namespace tcpsem
