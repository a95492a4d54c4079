// ParseFrame, the wire witness's frame parser: real frame layouts, and the
// malformed ones the fuzz target (tests/fuzz/segment_parser_fuzz.cc) feeds it.
#include "fixtures/witnesses/frame_parser.h"

#include <arpa/inet.h>
#include <net/ethernet.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>

#include <cstring>
#include <vector>

#include "gtest/gtest.h"

namespace tcpsem {
namespace {

// Ethernet + IPv4 (20 bytes) + TCP (20 bytes), `payload` bytes claimed by
// ip_len (not present: the capture keeps headers only).
std::vector<uint8_t> Ipv4TcpFrame(uint16_t ip_len, uint8_t tcp_off,
                                  uint16_t sport) {
  std::vector<uint8_t> frame(sizeof(ether_header) + 20 + 20);
  const uint16_t type = htons(ETHERTYPE_IP);
  std::memcpy(frame.data() + offsetof(ether_header, ether_type), &type, 2);
  ip ip4 = {};
  ip4.ip_hl = 5;
  ip4.ip_v = 4;
  ip4.ip_p = IPPROTO_TCP;
  ip4.ip_len = htons(ip_len);
  std::memcpy(frame.data() + sizeof(ether_header), &ip4, sizeof(ip4));
  tcphdr tcp = {};
  tcp.th_sport = htons(sport);
  tcp.th_off = tcp_off;
  tcp.th_flags = TH_RST | TH_ACK;
  tcp.th_seq = htonl(1000);
  std::memcpy(frame.data() + sizeof(ether_header) + 20, &tcp, sizeof(tcp));
  return frame;
}

TEST(FrameParser, ReadsAnIpv4Segment) {
  const std::vector<uint8_t> frame = Ipv4TcpFrame(20 + 20 + 7, 5, 4242);
  ParsedFrame parsed = ParseFrame(frame, 14 + 47, 4242);
  ASSERT_EQ(parsed.kind, ParsedFrame::Kind::kSegment);
  EXPECT_EQ(parsed.segment.length, 7u);
  EXPECT_EQ(parsed.segment.seq, 1000u);
  EXPECT_EQ(parsed.segment.flags, TH_RST | TH_ACK);
  EXPECT_EQ(parsed.segment.direction, Direction::kToPeer);
  EXPECT_EQ(ParseFrame(frame, 14 + 47, 1).segment.direction,
            Direction::kToCloser);
}

TEST(FrameParser, IpLengthShorterThanTheHeadersIsMalformed) {
  // ip_len 30: 20 bytes of IP header leave 10, less than the TCP header.
  EXPECT_EQ(ParseFrame(Ipv4TcpFrame(30, 5, 1), 54, 1).kind,
            ParsedFrame::Kind::kMalformed);
  EXPECT_EQ(ParseFrame(Ipv4TcpFrame(10, 5, 1), 54, 1).kind,
            ParsedFrame::Kind::kMalformed);
  // A TCP data offset below 5 words.
  EXPECT_EQ(ParseFrame(Ipv4TcpFrame(40, 2, 1), 54, 1).kind,
            ParsedFrame::Kind::kMalformed);
}

TEST(FrameParser, BigTcpTakesTheLengthFromTheWire) {
  // IPv4 BIG TCP (Linux 6.3+) sets tot_len to 0 above 64 KiB.
  ParsedFrame parsed = ParseFrame(Ipv4TcpFrame(0, 5, 1), 14 + 40 + 100000, 1);
  ASSERT_EQ(parsed.kind, ParsedFrame::Kind::kSegment);
  EXPECT_EQ(parsed.segment.length, 100000u);
}

TEST(FrameParser, CutFramesAndOtherProtocolsAreNotSegments) {
  std::vector<uint8_t> frame = Ipv4TcpFrame(40, 5, 1);
  for (size_t cut : {0ul, 13ul, 14ul + 19, 14ul + 20 + 19}) {
    EXPECT_EQ(ParseFrame(std::span(frame.data(), cut), 54, 1).kind,
              ParsedFrame::Kind::kOther)
        << cut;
  }
  frame[14 + 9] = IPPROTO_UDP;
  EXPECT_EQ(ParseFrame(frame, 54, 1).kind, ParsedFrame::Kind::kMarker);
  frame[14 + 9] = IPPROTO_ICMP;
  EXPECT_EQ(ParseFrame(frame, 54, 1).kind, ParsedFrame::Kind::kOther);
}

}  // namespace
}  // namespace tcpsem
