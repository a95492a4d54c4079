// Fuzzes the wire witness's frame parser (ParseFrame: Ethernet, IPv4/IPv6,
// TCP) with frames as libpcap hands them over. Input: the closing side's port
// (2 bytes, big-endian), the frame's wire length (4 bytes, big-endian), then
// the captured bytes. Beyond memory safety it checks what the witness relies
// on: a segment's payload length fits in the IP length fields (<= 65535, or
// the wire length for a BIG TCP frame).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "fixtures/witnesses/frame_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 6) return 0;
  const uint16_t closer_port = static_cast<uint16_t>(data[0] << 8 | data[1]);
  const uint32_t wire_length = uint32_t{data[2]} << 24 |
                               uint32_t{data[3]} << 16 |
                               uint32_t{data[4]} << 8 | data[5];
  const tcpsem::ParsedFrame parsed = tcpsem::ParseFrame(
      std::span<const uint8_t>(data + 6, size - 6), wire_length, closer_port);
  if (parsed.kind == tcpsem::ParsedFrame::Kind::kSegment &&
      parsed.segment.length > 65535 && parsed.segment.length > wire_length) {
    std::abort();  // a length no IP header or wire length allows
  }
  return 0;
}
