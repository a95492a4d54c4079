#include "fixtures/staging/loopback_hold.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "fixtures/base/unique_fd.h"
#include "fixtures/isolation/netns.h"
#include "gtest/gtest.h"
#include "tests/harness/private_netns_test.h"
#include "tests/harness/status_matchers.h"

namespace tcpsem {
namespace {

constexpr absl::Duration kDeadline = absl::Seconds(3);

// A non-blocking UDP socket on 127.0.0.1 that sends to itself.
UniqueFd SelfConnectedUdp() {
  UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (!fd.valid() ||
      ::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), length) != 0 ||
      ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length) !=
          0 ||
      ::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), length) != 0) {
    return UniqueFd();
  }
  return fd;
}

// The next datagram, waiting at most `timeout`; nullopt when none came.
std::optional<std::string> Receive(int fd, absl::Duration timeout) {
  pollfd p = {fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout))) !=
      1) {
    return std::nullopt;
  }
  char buffer[64];
  const ssize_t n = ::recv(fd, buffer, sizeof(buffer), MSG_DONTWAIT);
  if (n < 0) return std::nullopt;
  return std::string(buffer, static_cast<size_t>(n));
}

class LoopbackHoldTest : public PrivateNetnsTest {};

TEST_F(LoopbackHoldTest, HoldsEveryPacketThenReleasesThemInOrder) {
  absl::StatusOr<std::unique_ptr<LoopbackHold>> hold = LoopbackHold::Start();
  if (absl::IsFailedPrecondition(hold.status())) {
    GTEST_SKIP() << hold.status().message();
  }
  ASSERT_THAT(hold, IsOk());
  UniqueFd udp = SelfConnectedUdp();
  ASSERT_TRUE(udp.valid());
  ASSERT_EQ(::send(udp.get(), "first", 5, 0), 5);
  ASSERT_EQ(::send(udp.get(), "second", 6, 0), 6);
  // Start()'s probe and both datagrams wait in the qdisc; nothing arrives.
  absl::StatusOr<uint32_t> held = (*hold)->Held();
  ASSERT_THAT(held, IsOk());
  EXPECT_EQ(*held, 3u);
  EXPECT_EQ(Receive(udp.get(), absl::Milliseconds(50)), std::nullopt)
      << "a datagram crossed lo while it was held";

  absl::StatusOr<absl::Duration> held_for = (*hold)->Release(kDeadline);
  ASSERT_THAT(held_for, IsOk());
  EXPECT_GE(*held_for, absl::Milliseconds(50));
  EXPECT_EQ(Receive(udp.get(), kDeadline), "first");
  EXPECT_EQ(Receive(udp.get(), kDeadline), "second");
  // The qdisc stays and passes packets at once.
  ASSERT_EQ(::send(udp.get(), "after", 5, 0), 5);
  EXPECT_EQ(Receive(udp.get(), kDeadline), "after");
  absl::StatusOr<uint32_t> left = (*hold)->Held();
  ASSERT_THAT(left, IsOk());
  EXPECT_EQ(*left, 0u);
}

TEST(LoopbackHoldHostTest, RefusesTheHostNamespace) {
  absl::StatusOr<std::unique_ptr<LoopbackHold>> hold = LoopbackHold::Start();
  EXPECT_TRUE(absl::IsFailedPrecondition(hold.status())) << hold.status();
}

}  // namespace
}  // namespace tcpsem
