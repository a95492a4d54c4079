#include "bench/floor_cell.h"

#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "fixtures/base/background_close.h"
#include "fixtures/base/errno_status.h"
#include "fixtures/base/unique_fd.h"
#include "fixtures/base/wait_until.h"
#include "fixtures/isolation/netns.h"
#include "fixtures/staging/blocking_bound.h"
#include "fixtures/staging/fill_window.h"
#include "fixtures/witnesses/sock_diag.h"
#include "fixtures/witnesses/tcp_state.h"

namespace tcpsem {
namespace {

constexpr int kWaitMs = 2000;  // bound on every wait; the floor never nears it

absl::Status LoopbackUp() {
  UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!sock.valid()) return ErrnoStatus("socket(AF_INET, SOCK_DGRAM)");
  ifreq ifr = {};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (::ioctl(sock.get(), SIOCGIFFLAGS, &ifr) != 0) {
    return ErrnoStatus("ioctl(lo, SIOCGIFFLAGS)");
  }
  // lo's MTU as in every test's namespace (fixtures/isolation/netns.h), so
  // segments are as large as the scenarios' and a full window as long.
  ifr.ifr_mtu = PrivateNetns::kLoopbackMtu;
  if (::ioctl(sock.get(), SIOCSIFMTU, &ifr) != 0) {
    return ErrnoStatus("ioctl(lo, SIOCSIFMTU)");
  }
  if (::ioctl(sock.get(), SIOCGIFFLAGS, &ifr) != 0) {
    return ErrnoStatus("ioctl(lo, SIOCGIFFLAGS)");
  }
  ifr.ifr_flags |= IFF_UP;
  if (::ioctl(sock.get(), SIOCSIFFLAGS, &ifr) != 0) {
    return ErrnoStatus("ioctl(lo, SIOCSIFFLAGS up)");
  }
  return absl::OkStatus();
}

// A packet socket on lo taking every frame, never read (as the wire
// witness's between two syncs).
absl::StatusOr<UniqueFd> TapLoopback() {
  UniqueFd tap(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL)));
  if (!tap.valid()) return ErrnoStatus("socket(AF_PACKET)");
  sockaddr_ll lo = {};
  lo.sll_family = AF_PACKET;
  lo.sll_protocol = htons(ETH_P_ALL);
  lo.sll_ifindex = static_cast<int>(::if_nametoindex("lo"));
  if (::bind(tap.get(), reinterpret_cast<sockaddr*>(&lo), sizeof(lo)) != 0) {
    return ErrnoStatus("bind(AF_PACKET, lo)");
  }
  return tap;
}

absl::Status AwaitReadable(int fd, const char* what) {
  pollfd pfd = {fd, POLLIN, 0};
  const int rc = ::poll(&pfd, 1, kWaitMs);
  if (rc < 0) return ErrnoStatus("poll");
  if (rc == 0) {
    return absl::DeadlineExceededError(absl::StrCat("timed out: ", what));
  }
  return absl::OkStatus();
}

// close()s `closer` and waits until the kernel shows it in FIN_WAIT2: the
// peer's ACK of the FIN has arrived. An orphan's state change raises no
// event, so exact sock_diag lookups re-check it every 50 us (the suites wake
// on the captured ACK instead; a 1 ms re-check would add up to 1 ms to this
// floor).
absl::Status CloseAndAwaitFinAcked(UniqueFd closer) {
  absl::StatusOr<TcpEndpoints> ends = TcpEndpoints::Of(closer.get());
  if (!ends.ok()) return ends.status();
  if (::close(closer.release()) != 0) return ErrnoStatus("close(closer)");
  return WaitUntil(
      [&]() -> absl::StatusOr<bool> {
        absl::StatusOr<std::optional<DiagSocket>> found =
            LookupTcpSocket(*ends);
        if (!found.ok()) return found.status();
        return found->has_value() && (*found)->state == kTcpFinWait2;
      },
      absl::Milliseconds(kWaitMs), "the peer's ACK of the FIN (FIN_WAIT2)",
      /*wake_fd=*/-1, /*wake_events=*/0, absl::Microseconds(50));
}

absl::Status CellInThisNamespace(FloorKind kind) {
  if (absl::Status s = LoopbackUp(); !s.ok()) return s;
  UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!listener.valid()) return ErrnoStatus("socket(listener)");
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      ::listen(listener.get(), 1) != 0 ||
      ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len) !=
          0) {
    return ErrnoStatus("bind/listen/getsockname");
  }
  UniqueFd peer(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!peer.valid()) return ErrnoStatus("socket(peer)");
  // As every staged peer: connect() and send() wait at most SO_SNDTIMEO.
  if (absl::Status s = BoundBlockingCalls(peer.get()); !s.ok()) return s;
  if (::connect(peer.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    return BlockingCallStatus("connect(peer)", "the listener's SYN-ACK", errno);
  }
  if (absl::Status s = AwaitReadable(listener.get(), "accept"); !s.ok()) {
    return s;
  }
  UniqueFd closer(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!closer.valid()) return ErrnoStatus("accept4");
  switch (kind) {
    case FloorKind::kUnreadRst: {
      const char byte = 'x';
      if (::send(peer.get(), &byte, 1, MSG_NOSIGNAL) != 1) {
        return BlockingCallStatus("send(peer)", "room in the send buffer",
                                  errno);
      }
      if (absl::Status s = AwaitReadable(closer.get(), "the peer's byte");
          !s.ok()) {
        return s;
      }
      break;
    }
    case FloorKind::kFin:
      return CloseAndAwaitFinAcked(std::move(closer));
    case FloorKind::kWindowFull:
    case FloorKind::kWindowFullUntapped: {
      UniqueFd tap;
      if (kind == FloorKind::kWindowFull) {
        absl::StatusOr<UniqueFd> opened = TapLoopback();
        if (!opened.ok()) return opened.status();
        tap = *std::move(opened);
      }
      absl::StatusOr<int> sent =
          FillWindow(peer.get(), absl::Milliseconds(kWaitMs));
      // A packet socket's release waits for a grace period; the suites
      // release theirs in the background too.
      if (tap.valid()) CloseInBackground(std::move(tap));
      if (!sent.ok()) return sent.status();
      break;
    }
  }
  if (::close(closer.release()) != 0) return ErrnoStatus("close(closer)");
  if (absl::Status s = AwaitReadable(peer.get(), "the RST"); !s.ok()) return s;
  char buf;
  const ssize_t n = ::recv(peer.get(), &buf, 1, MSG_DONTWAIT);
  if (n >= 0 || errno != ECONNRESET) {
    return absl::InternalError(absl::StrCat(
        "floor cell: peer's recv() returned ", n, " (", std::strerror(errno),
        "), expected ECONNRESET (tcp_close() sends RST for unread data)"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status RunFloorCell(FloorKind kind) {
  UniqueFd previous(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!previous.valid()) return ErrnoStatus("open(/proc/thread-self/ns/net)");
  if (::unshare(CLONE_NEWNET) != 0) return ErrnoStatus("unshare(CLONE_NEWNET)");
  absl::Status cell = CellInThisNamespace(kind);
  if (::setns(previous.get(), CLONE_NEWNET) != 0 && cell.ok()) {
    return ErrnoStatus("setns(previous netns)");
  }
  return cell;
}

}  // namespace tcpsem
