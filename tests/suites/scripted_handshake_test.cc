// The scripted peer's own openings (issue 12, item 1): the active-open
// helper (the kernel connect()s, the script answers) gives a connection that
// carries data both ways and closes with a FIN, and on a fresh TUN device
// the very first SYN is answered (the device waits until its address is
// local: tun_device.cc, WaitUntilLocal), on IPv4 and IPv6.
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "fixtures/base/errno_status.h"
#include "fixtures/peers/scripted/handshake.h"
#include "fixtures/peers/scripted/scripted_peer_test.h"
#include "fixtures/peers/scripted/segment_matchers.h"
#include "fixtures/staging/socket_pair.h"
#include "gmock/gmock.h"
#include "tests/harness/witness_registry.h"

namespace tcpsem {
namespace {

using ::testing::AllOf;

class HandshakeTest : public ScriptedPeerTest,
                      public ::testing::WithParamInterface<IpFamily> {};

TCPSEM_DECLARE_WITNESSES(
    HandshakeTest,
    {{Witness::kWire, kAsked},
     {Witness::kPeerApi, kAsked},
     {Witness::kCounters,
      "n/a: an opening; the counters that moved are recorded, not judged"},
     {Witness::kSockDiag, kAsked},
     {Witness::kResetReason, kAsked}});

// RFC 9293 3.5: the kernel's SYN (seq 0 relative, MSS offered), the
// remote's SYN-ACK, the kernel's ACK (seq 1, ack 1); then ESTABLISHED, data
// flows, and close() with nothing unread sends FIN (tcp_close() ->
// tcp_send_fin()), no RST.
TEST_P(HandshakeTest, ActiveOpenConnectsCarriesDataAndClosesWithFin) {
  if (!StartPeer(GetParam())) return;
  absl::StatusOr<UniqueFd> fd = ActiveOpen(peer(), kSegmentTimeout);
  ASSERT_TRUE(fd.ok()) << "active open: " << fd.status();
  const std::vector<ExchangedSegment>& opening = peer().exchange();
  ASSERT_EQ(opening.size(), 3u);
  EXPECT_EQ(FlagNotation(opening[0].packet.flags), "S");
  EXPECT_EQ(opening[0].rel_seq, 0u);
  EXPECT_TRUE(opening[0].packet.options.mss.has_value());
  EXPECT_THAT(opening[2], AllOf(Flags("."), Seq(1), Ack(1), Len(0)));
  EXPECT_NE(peer().kernel_port(), 0);
  EXPECT_EQ(TcpStateNameOf(fd->get()), "ESTABLISHED");
  EXPECT_EQ(KernelSocket(), "ESTABLISHED");

  peer().Stimulus("send()");
  ASSERT_EQ(::send(fd->get(), "abc", 3, 0), 3) << ErrnoName(errno);
  peer().StimulusReturned();
  EXPECT_THAT(peer().Next(kSegmentTimeout),
              IsOkAndHolds(AllOf(Flags("P."), Seq(1), Ack(1), Len(3),
                                 Within(TimingBucket::kImmediate))));
  ASSERT_THAT(peer().Inject(Seg("P.").Ack(4).Data("xy"), "the answer"), IsOk());
  char buffer[8];
  const ssize_t got = ::recv(fd->get(), buffer, sizeof(buffer), 0);
  NoteApi("recv", absl::StrCat(got));
  EXPECT_EQ(got, 2);
  peer().Stimulus("close()");
  fd->reset();
  peer().StimulusReturned();
  // The answer's ACK may ride on the FIN, or leave first on its timer.
  absl::StatusOr<ExchangedSegment> next = peer().Next(kSegmentTimeout);
  if (next.ok() && FlagNotation(next->packet.flags) == ".") {
    next = peer().Next(kSegmentTimeout);
  }
  EXPECT_THAT(next, IsOkAndHolds(AllOf(Flags("F."), Seq(4), Ack(3))));
  EXPECT_EQ(KernelSocket(), "FIN_WAIT1 (no descriptor)");
  ExpectResetReasons("-", "tcp_close(): nothing unread, no RST");
}

// Fresh devices, one after another, each answering the first SYN at once:
// nothing is retransmitted, so an address that is not yet local (the SYN
// dropped, Ip6InAddrErrors) fails here instead of slowing a handshake.
TEST_P(HandshakeTest, FirstSynOnAFreshDeviceIsAnswered) {
  if (!StartPeer(GetParam())) return;  // skips without TUN or IPv6
  constexpr int kDevices = 5;
  const bool v6 = GetParam() == IpFamily::kV6;
  for (int i = 0; i < kDevices; ++i) {
    SCOPED_TRACE(absl::StrCat("fresh device ", i + 1, " of ", kDevices));
    // A new TUN device, created and configured now.
    ASSERT_TRUE(ReplacePeer());
    UniqueFd listener(
        ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    ASSERT_TRUE(listener.valid()) << ErrnoName(errno);
    const int one = 1;
    ASSERT_EQ(::setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one,
                           sizeof(one)),
              0);
    sockaddr_storage local = {};
    socklen_t length = 0;
    if (v6) {
      auto* sin6 = reinterpret_cast<sockaddr_in6*>(&local);
      sin6->sin6_family = AF_INET6;
      sin6->sin6_port = htons(kKernelPort);
      sin6->sin6_addr = peer().kernel_address().bytes;
      length = sizeof(*sin6);
    } else {
      auto* sin = reinterpret_cast<sockaddr_in*>(&local);
      sin->sin_family = AF_INET;
      sin->sin_port = htons(kKernelPort);
      std::memcpy(&sin->sin_addr, peer().kernel_address().bytes.s6_addr, 4);
      length = sizeof(*sin);
    }
    ASSERT_EQ(
        ::bind(listener.get(), reinterpret_cast<sockaddr*>(&local), length), 0)
        << ErrnoName(errno);
    ASSERT_EQ(::listen(listener.get(), 1), 0);
    peer().set_kernel_port(kKernelPort);
    ASSERT_THAT(peer().Inject(Seg("S").Seq(0), "the first SYN"), IsOk());
    // Well inside the remote's own SYN retransmission interval (200 ms):
    // the SYN-ACK answers this SYN, not a second one.
    EXPECT_THAT(peer().Next(absl::Milliseconds(150)),
                IsOkAndHolds(AllOf(Flags("S."), Ack(1),
                                   Within(TimingBucket::kImmediate))))
        << "RFC 9293 3.5: a listener answers a SYN with a SYN-ACK";
  }
}

INSTANTIATE_TEST_SUITE_P(ScriptedHandshake, HandshakeTest,
                         ::testing::Values(IpFamily::kV4, IpFamily::kV6),
                         IpFamilyParamName());

}  // namespace
}  // namespace tcpsem
