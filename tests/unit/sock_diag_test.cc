// The sock_diag witness against real sockets in a private network namespace:
// each test sees only the sockets it made (plus what the kernel keeps after
// they are closed).
#include "fixtures/witnesses/sock_diag.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fixtures/base/errno_status.h"
#include "fixtures/base/unique_fd.h"
#include "fixtures/base/wait_until.h"
#include "fixtures/isolation/netns.h"
#include "gtest/gtest.h"
#include "tests/harness/private_netns_test.h"
#include "tests/harness/status_matchers.h"

namespace tcpsem {
namespace {

// Loopback state changes take microseconds to milliseconds (a delayed ACK);
// this only bounds how long a broken kernel or harness can hang a test.
constexpr absl::Duration kDeadline = absl::Seconds(5);

std::string Describe(const std::vector<DiagSocket>& sockets) {
  if (sockets.empty()) return "(no sockets)";
  return absl::StrJoin(sockets, "; ",
                       [](std::string* out, const DiagSocket& socket) {
                         absl::StrAppend(out, socket.ToString());
                       });
}

// The socket in `sockets` with this family, state and ports, if any.
const DiagSocket* Find(const std::vector<DiagSocket>& sockets, int family,
                       int state, uint16_t local_port, uint16_t remote_port) {
  for (const DiagSocket& socket : sockets) {
    if (socket.family == family && socket.state == state &&
        socket.local_port == local_port && socket.remote_port == remote_port) {
      return &socket;
    }
  }
  return nullptr;
}

// Lists the sockets on `port` until `done` holds for the list or kDeadline
// passes; returns the last list either way, for the caller to assert on.
absl::StatusOr<std::vector<DiagSocket>> WaitForSockets(
    uint16_t port,
    const std::function<bool(const std::vector<DiagSocket>&)>& done) {
  absl::StatusOr<std::vector<DiagSocket>> sockets;
  absl::Status waited = WaitUntil(
      [&]() -> absl::StatusOr<bool> {
        sockets = ListTcpSocketsOnPort(port);
        if (!sockets.ok()) return sockets.status();
        return done(*sockets);
      },
      kDeadline, "the socket listing");
  if (!waited.ok() && !absl::IsDeadlineExceeded(waited)) return waited;
  return sockets;
}

// Waits until `fd` is readable (a pending connection, data or EOF).
absl::Status WaitReadable(int fd) {
  pollfd pfd = {.fd = fd, .events = POLLIN, .revents = 0};
  const int ready = ::poll(&pfd, 1, absl::ToInt64Milliseconds(kDeadline));
  if (ready < 0) return ErrnoStatus("poll");
  if (ready == 0) return absl::DeadlineExceededError("poll: not readable");
  return absl::OkStatus();
}

uint32_t InodeOf(int fd) {
  struct stat st = {};
  if (::fstat(fd, &st) != 0) return 0;
  return static_cast<uint32_t>(st.st_ino);
}

uint16_t LocalPort(int fd) {
  sockaddr_storage addr = {};
  socklen_t len = sizeof(addr);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return 0;
  }
  if (addr.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
  }
  return ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
}

// Loopback of `family` (127.0.0.1 or ::1) at `port`; `any` gives 0.0.0.0/::.
sockaddr_storage Address(int family, uint16_t port, bool any = false) {
  sockaddr_storage addr = {};
  if (family == AF_INET6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&addr);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    in6->sin6_addr = any ? in6addr_any : in6addr_loopback;
  } else {
    auto* in = reinterpret_cast<sockaddr_in*>(&addr);
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    in->sin_addr.s_addr = htonl(any ? INADDR_ANY : INADDR_LOOPBACK);
  }
  return addr;
}

socklen_t AddressLength(int family) {
  return family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
}

// A listener on an ephemeral port of loopback (or the wildcard address).
absl::StatusOr<UniqueFd> Listen(int family, int backlog, bool any = false) {
  UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return ErrnoStatus("socket(listener)");
  if (family == AF_INET6 && any) {
    const int off = 0;
    if (::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) !=
        0) {
      return ErrnoStatus("setsockopt(IPV6_V6ONLY, 0)");
    }
  }
  const sockaddr_storage addr = Address(family, 0, any);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr),
             AddressLength(family)) != 0) {
    return ErrnoStatus("bind(listener)");
  }
  if (::listen(fd.get(), backlog) != 0) return ErrnoStatus("listen");
  return fd;
}

// A blocking connect() from loopback of `family` to loopback `port`.
absl::StatusOr<UniqueFd> Connect(int family, uint16_t port) {
  UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return ErrnoStatus("socket(client)");
  const sockaddr_storage addr = Address(family, port);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr),
                AddressLength(family)) != 0) {
    return ErrnoStatus("connect");
  }
  return fd;
}

absl::StatusOr<UniqueFd> Accept(int listener) {
  if (absl::Status ready = WaitReadable(listener); !ready.ok()) return ready;
  UniqueFd fd(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus("accept4");
  return fd;
}

class SockDiagTest : public PrivateNetnsTest {};

TEST(SockDiagToStringTest, NamesStateEndpointsAndOrphanhood) {
  DiagSocket socket = {.family = AF_INET,
                       .local = "127.0.0.1:5555",
                       .remote = "127.0.0.1:40000",
                       .local_port = 5555,
                       .remote_port = 40000,
                       .state = TCP_FIN_WAIT2,
                       .inode = 0,
                       .rqueue = 0,
                       .wqueue = 0};
  EXPECT_EQ(socket.ToString(),
            "FIN_WAIT2 127.0.0.1:5555->127.0.0.1:40000 orphan");
  socket.state = TCP_ESTABLISHED;
  socket.inode = 1234;
  socket.rqueue = 5;
  EXPECT_EQ(socket.ToString(),
            "ESTABLISHED 127.0.0.1:5555->127.0.0.1:40000 inode=1234 rq=5");
}

TEST_F(SockDiagTest, EmptyNamespaceListsNothing) {
  absl::StatusOr<std::vector<DiagSocket>> sockets = ListTcpSockets();
  ASSERT_OK(sockets);
  EXPECT_TRUE(sockets->empty()) << Describe(*sockets);
}

TEST_F(SockDiagTest, ListsOnlyTheCallingThreadsNamespace) {
  absl::StatusOr<UniqueFd> listener = Listen(AF_INET, 4);
  ASSERT_OK(listener);
  {
    absl::StatusOr<PrivateNetns> inner = PrivateNetns::Enter();
    ASSERT_OK(inner);
    absl::StatusOr<std::vector<DiagSocket>> sockets = ListTcpSockets();
    ASSERT_OK(sockets);
    EXPECT_TRUE(sockets->empty()) << Describe(*sockets);
  }
  absl::StatusOr<std::vector<DiagSocket>> sockets = ListTcpSockets();
  ASSERT_OK(sockets);
  EXPECT_EQ(sockets->size(), 1u) << Describe(*sockets);
}

TEST_F(SockDiagTest, ListenerShowsListen) {
  absl::StatusOr<UniqueFd> listener = Listen(AF_INET, 7);
  ASSERT_OK(listener);
  absl::StatusOr<UniqueFd> other = Listen(AF_INET, 4);
  ASSERT_OK(other);
  const uint16_t port = LocalPort(listener->get());

  absl::StatusOr<std::vector<DiagSocket>> sockets = ListTcpSocketsOnPort(port);
  ASSERT_OK(sockets);
  ASSERT_EQ(sockets->size(), 1u) << Describe(*sockets);
  const DiagSocket& socket = sockets->front();
  EXPECT_EQ(socket.family, AF_INET);
  EXPECT_EQ(socket.state, TCP_LISTEN) << socket.ToString();
  EXPECT_EQ(socket.local, absl::StrCat("127.0.0.1:", port));
  EXPECT_EQ(socket.remote, "0.0.0.0:0");
  EXPECT_EQ(socket.local_port, port);
  EXPECT_EQ(socket.remote_port, 0);
  EXPECT_EQ(socket.inode, InodeOf(listener->get()));
  EXPECT_FALSE(socket.orphan());
  // For a listener the queues are the accept queue and its limit.
  EXPECT_EQ(socket.rqueue, 0u);
  EXPECT_EQ(socket.wqueue, 7u);

  absl::StatusOr<std::vector<DiagSocket>> all = ListTcpSockets();
  ASSERT_OK(all);
  EXPECT_EQ(all->size(), 2u) << Describe(*all);
}

TEST_F(SockDiagTest, ConnectedIpv4PairShowsTwoEstablished) {
  absl::StatusOr<UniqueFd> listener = Listen(AF_INET, 4);
  ASSERT_OK(listener);
  const uint16_t port = LocalPort(listener->get());
  absl::StatusOr<UniqueFd> client = Connect(AF_INET, port);
  ASSERT_OK(client);
  const uint16_t client_port = LocalPort(client->get());

  // Before accept() the server end is ESTABLISHED in the accept queue, with
  // no struct socket and so no inode yet.
  absl::StatusOr<std::vector<DiagSocket>> queued =
      WaitForSockets(port, [&](const std::vector<DiagSocket>& sockets) {
        return Find(sockets, AF_INET, TCP_ESTABLISHED, port, client_port) !=
               nullptr;
      });
  ASSERT_OK(queued);
  const DiagSocket* pending =
      Find(*queued, AF_INET, TCP_ESTABLISHED, port, client_port);
  ASSERT_NE(pending, nullptr) << Describe(*queued);
  EXPECT_EQ(pending->inode, 0u) << pending->ToString();
  const DiagSocket* backlog = Find(*queued, AF_INET, TCP_LISTEN, port, 0);
  ASSERT_NE(backlog, nullptr) << Describe(*queued);
  EXPECT_EQ(backlog->rqueue, 1u) << backlog->ToString();

  absl::StatusOr<UniqueFd> server = Accept(listener->get());
  ASSERT_OK(server);

  absl::StatusOr<std::vector<DiagSocket>> sockets = ListTcpSocketsOnPort(port);
  ASSERT_OK(sockets);
  EXPECT_EQ(sockets->size(), 3u) << Describe(*sockets);
  const DiagSocket* client_end =
      Find(*sockets, AF_INET, TCP_ESTABLISHED, client_port, port);
  const DiagSocket* server_end =
      Find(*sockets, AF_INET, TCP_ESTABLISHED, port, client_port);
  ASSERT_NE(client_end, nullptr) << Describe(*sockets);
  ASSERT_NE(server_end, nullptr) << Describe(*sockets);
  EXPECT_EQ(client_end->local, absl::StrCat("127.0.0.1:", client_port));
  EXPECT_EQ(client_end->remote, absl::StrCat("127.0.0.1:", port));
  EXPECT_EQ(client_end->inode, InodeOf(client->get()));
  EXPECT_EQ(server_end->inode, InodeOf(server->get()));
  EXPECT_NE(Find(*sockets, AF_INET, TCP_LISTEN, port, 0), nullptr)
      << Describe(*sockets);

  // Unread bytes show up as the receiver's rqueue.
  ASSERT_EQ(::send(client->get(), "hello", 5, MSG_NOSIGNAL), 5)
      << ErrnoName(errno);
  absl::StatusOr<std::vector<DiagSocket>> unread =
      WaitForSockets(port, [&](const std::vector<DiagSocket>& sockets) {
        const DiagSocket* s =
            Find(sockets, AF_INET, TCP_ESTABLISHED, port, client_port);
        return s != nullptr && s->rqueue == 5;
      });
  ASSERT_OK(unread);
  const DiagSocket* receiver =
      Find(*unread, AF_INET, TCP_ESTABLISHED, port, client_port);
  ASSERT_NE(receiver, nullptr) << Describe(*unread);
  EXPECT_EQ(receiver->rqueue, 5u) << receiver->ToString();
}

TEST_F(SockDiagTest, CleanCloseLeavesOrphanedTimeWait) {
  absl::StatusOr<UniqueFd> listener = Listen(AF_INET, 4);
  ASSERT_OK(listener);
  const uint16_t port = LocalPort(listener->get());
  absl::StatusOr<UniqueFd> client = Connect(AF_INET, port);
  ASSERT_OK(client);
  const uint16_t client_port = LocalPort(client->get());
  absl::StatusOr<UniqueFd> server = Accept(listener->get());
  ASSERT_OK(server);
  const uint32_t server_inode = InodeOf(server->get());

  // The client closes first: its end is orphaned in FIN_WAIT2 while the
  // server, still holding its descriptor, sits in CLOSE_WAIT. Not at once:
  // the server delays its ACK of the FIN (CLOSE_WAIT enters pingpong mode),
  // so for a few milliseconds the client is an orphan in FIN_WAIT1, wq=1.
  client->reset();
  absl::StatusOr<std::vector<DiagSocket>> half_closed =
      WaitForSockets(port, [&](const std::vector<DiagSocket>& sockets) {
        return Find(sockets, AF_INET, TCP_FIN_WAIT2, client_port, port) !=
                   nullptr &&
               Find(sockets, AF_INET, TCP_CLOSE_WAIT, port, client_port) !=
                   nullptr;
      });
  ASSERT_OK(half_closed);
  const DiagSocket* fin_wait2 =
      Find(*half_closed, AF_INET, TCP_FIN_WAIT2, client_port, port);
  const DiagSocket* close_wait =
      Find(*half_closed, AF_INET, TCP_CLOSE_WAIT, port, client_port);
  ASSERT_NE(fin_wait2, nullptr) << Describe(*half_closed);
  ASSERT_NE(close_wait, nullptr) << Describe(*half_closed);
  EXPECT_TRUE(fin_wait2->orphan()) << fin_wait2->ToString();
  EXPECT_EQ(close_wait->inode, server_inode) << close_wait->ToString();

  // The server reads the EOF and closes: LAST_ACK is acknowledged at once on
  // loopback, leaving only the client's TIME_WAIT.
  ASSERT_OK(WaitReadable(server->get()));
  char byte;
  ASSERT_EQ(::recv(server->get(), &byte, 1, 0), 0) << ErrnoName(errno);
  server->reset();
  absl::StatusOr<std::vector<DiagSocket>> closed =
      WaitForSockets(port, [&](const std::vector<DiagSocket>& sockets) {
        // Just the listener and the TIME_WAIT.
        return sockets.size() == 2 && Find(sockets, AF_INET, TCP_TIME_WAIT,
                                           client_port, port) != nullptr;
      });
  ASSERT_OK(closed);
  ASSERT_EQ(closed->size(), 2u) << Describe(*closed);
  const DiagSocket* time_wait =
      Find(*closed, AF_INET, TCP_TIME_WAIT, client_port, port);
  ASSERT_NE(time_wait, nullptr) << Describe(*closed);
  EXPECT_EQ(time_wait->inode, 0u) << time_wait->ToString();
  EXPECT_TRUE(time_wait->orphan());
  EXPECT_EQ(time_wait->local, absl::StrCat("127.0.0.1:", client_port));
  EXPECT_EQ(time_wait->remote, absl::StrCat("127.0.0.1:", port));
  EXPECT_EQ(time_wait->rqueue, 0u);
  EXPECT_EQ(time_wait->wqueue, 0u);
  EXPECT_NE(Find(*closed, AF_INET, TCP_LISTEN, port, 0), nullptr)
      << Describe(*closed);
}

TEST_F(SockDiagTest, Ipv6SocketsAreListedAsInet6) {
  if (!netns_->has_ipv6()) GTEST_SKIP() << "no ::1 in this kernel";
  absl::StatusOr<UniqueFd> listener = Listen(AF_INET6, 4);
  ASSERT_OK(listener);
  const uint16_t port = LocalPort(listener->get());
  absl::StatusOr<UniqueFd> client = Connect(AF_INET6, port);
  ASSERT_OK(client);
  const uint16_t client_port = LocalPort(client->get());
  absl::StatusOr<UniqueFd> server = Accept(listener->get());
  ASSERT_OK(server);

  absl::StatusOr<std::vector<DiagSocket>> sockets = ListTcpSocketsOnPort(port);
  ASSERT_OK(sockets);
  ASSERT_EQ(sockets->size(), 3u) << Describe(*sockets);
  for (const DiagSocket& socket : *sockets) {
    EXPECT_EQ(socket.family, AF_INET6) << socket.ToString();
  }
  const DiagSocket* listening = Find(*sockets, AF_INET6, TCP_LISTEN, port, 0);
  ASSERT_NE(listening, nullptr) << Describe(*sockets);
  EXPECT_EQ(listening->local, absl::StrCat("[::1]:", port));
  EXPECT_EQ(listening->remote, "[::]:0");
  const DiagSocket* client_end =
      Find(*sockets, AF_INET6, TCP_ESTABLISHED, client_port, port);
  ASSERT_NE(client_end, nullptr) << Describe(*sockets);
  EXPECT_EQ(client_end->local, absl::StrCat("[::1]:", client_port));
  EXPECT_EQ(client_end->remote, absl::StrCat("[::1]:", port));
  EXPECT_EQ(client_end->inode, InodeOf(client->get()));
  const DiagSocket* server_end =
      Find(*sockets, AF_INET6, TCP_ESTABLISHED, port, client_port);
  ASSERT_NE(server_end, nullptr) << Describe(*sockets);
  EXPECT_EQ(server_end->inode, InodeOf(server->get()));
}

TEST_F(SockDiagTest, DualStackListenerReportsMappedIpv4AsInet6) {
  if (!netns_->has_ipv6()) GTEST_SKIP() << "no IPv6 in this kernel";
  absl::StatusOr<UniqueFd> listener = Listen(AF_INET6, 4, /*any=*/true);
  ASSERT_OK(listener);
  const uint16_t port = LocalPort(listener->get());
  absl::StatusOr<UniqueFd> client = Connect(AF_INET, port);
  ASSERT_OK(client);
  const uint16_t client_port = LocalPort(client->get());
  absl::StatusOr<UniqueFd> server = Accept(listener->get());
  ASSERT_OK(server);

  // One connection, two families: the IPv4 client is AF_INET, the end the
  // dual-stack listener accepted is AF_INET6 with a v4-mapped address.
  absl::StatusOr<std::vector<DiagSocket>> sockets = ListTcpSocketsOnPort(port);
  ASSERT_OK(sockets);
  ASSERT_EQ(sockets->size(), 3u) << Describe(*sockets);
  const DiagSocket* client_end =
      Find(*sockets, AF_INET, TCP_ESTABLISHED, client_port, port);
  ASSERT_NE(client_end, nullptr) << Describe(*sockets);
  const DiagSocket* server_end =
      Find(*sockets, AF_INET6, TCP_ESTABLISHED, port, client_port);
  ASSERT_NE(server_end, nullptr) << Describe(*sockets);
  EXPECT_EQ(server_end->local, absl::StrCat("[::ffff:127.0.0.1]:", port));
  EXPECT_EQ(server_end->remote,
            absl::StrCat("[::ffff:127.0.0.1]:", client_port));
  const DiagSocket* listening = Find(*sockets, AF_INET6, TCP_LISTEN, port, 0);
  ASSERT_NE(listening, nullptr) << Describe(*sockets);
  EXPECT_EQ(listening->local, absl::StrCat("[::]:", port));
}

// The exact lookup (LookupTcpSocket) that replaced the dump wherever a test
// knows both ends must report what the dump reports, field for field, in
// every state a test asks about: a connection's ends established with unread
// data, a child still in the accept queue (no inode), a FIN_WAIT2 orphan
// handed to a timewait mini-socket and CLOSE_WAIT, a FIN_WAIT1 orphan
// behind a zero window (retransmit/probe timer), TIME_WAIT, and nothing once
// reset; a listener on the port is not the connection's socket.
enum class LookupFamily { kV4, kV6, kV4Mapped };

class SockDiagLookupTest : public SockDiagTest,
                           public ::testing::WithParamInterface<LookupFamily> {
 protected:
  void SetUp() override {
    SockDiagTest::SetUp();
    if (IsSkipped()) return;
    if (GetParam() != LookupFamily::kV4 && !netns_->has_ipv6()) {
      GTEST_SKIP() << "no IPv6 in this kernel";
    }
  }
  int ListenerFamily() const {
    return GetParam() == LookupFamily::kV4 ? AF_INET : AF_INET6;
  }
  int ClientFamily() const {
    return GetParam() == LookupFamily::kV6 ? AF_INET6 : AF_INET;
  }
  bool AnyAddress() const { return GetParam() == LookupFamily::kV4Mapped; }
  // Whether the sockets on `port` come to satisfy `done` within kDeadline.
  static bool Reaches(
      uint16_t port,
      const std::function<bool(const std::vector<DiagSocket>&)>& done) {
    absl::StatusOr<std::vector<DiagSocket>> sockets =
        WaitForSockets(port, done);
    return sockets.ok() && done(*sockets);
  }
  // Whether some socket on `port` comes to match within kDeadline.
  static bool SomeSocketReaches(
      uint16_t port, const std::function<bool(const DiagSocket&)>& match) {
    return Reaches(port, [&](const std::vector<DiagSocket>& sockets) {
      return std::any_of(sockets.begin(), sockets.end(), match);
    });
  }

  // The dump's entry for `ends` and the lookup's answer, side by side:
  // both absent, or equal in every field the witness reports.
  static void ExpectLookupMatchesDump(const TcpEndpoints& ends, uint16_t port,
                                      const std::string& what) {
    SCOPED_TRACE(what);
    absl::StatusOr<std::optional<DiagSocket>> looked = LookupTcpSocket(ends);
    ASSERT_OK(looked);
    absl::StatusOr<std::vector<DiagSocket>> dumped = ListTcpSocketsOnPort(port);
    ASSERT_OK(dumped);
    std::optional<DiagSocket> listed;
    const uint16_t local_port =
        ntohs(reinterpret_cast<const sockaddr_in&>(ends.local).sin_port);
    const uint16_t remote_port =
        ntohs(reinterpret_cast<const sockaddr_in&>(ends.remote).sin_port);
    for (const DiagSocket& s : *dumped) {
      if (s.local_port == local_port && s.remote_port == remote_port) {
        listed = s;
      }
    }
    ASSERT_EQ(looked->has_value(), listed.has_value())
        << "dump: " << Describe(*dumped) << "\nlookup: "
        << (looked->has_value() ? (*looked)->ToString() : "none");
    if (!listed.has_value()) return;
    const DiagSocket& a = **looked;
    ::testing::Test::RecordProperty(what, a.ToString());
    EXPECT_EQ(a.ToString(), listed->ToString());
    EXPECT_EQ(a.family, listed->family) << a.ToString();
    EXPECT_EQ(a.timer, listed->timer) << a.ToString();
  }
};

TEST_P(SockDiagLookupTest, ExactLookupAgreesWithTheDumpInEveryState) {
  absl::StatusOr<UniqueFd> listener = Listen(ListenerFamily(), 4, AnyAddress());
  ASSERT_OK(listener);
  const uint16_t port = LocalPort(listener->get());
  absl::StatusOr<UniqueFd> client = Connect(ClientFamily(), port);
  ASSERT_OK(client);
  absl::StatusOr<TcpEndpoints> client_ends = TcpEndpoints::Of(client->get());
  ASSERT_OK(client_ends);
  const uint16_t client_port = LocalPort(client->get());
  // Not accepted yet: the server end is ESTABLISHED in the accept queue,
  // found by the client's ends reversed.
  ASSERT_TRUE(SomeSocketReaches(port, [&](const DiagSocket& s) {
    return s.local_port == port && s.remote_port == client_port;
  }));
  ExpectLookupMatchesDump(client_ends->Reversed(), port, "accept queue");
  absl::StatusOr<UniqueFd> server = Accept(listener->get());
  ASSERT_OK(server);
  absl::StatusOr<TcpEndpoints> server_ends = TcpEndpoints::Of(server->get());
  ASSERT_OK(server_ends);

  // A connection no socket holds, to the listener's port: not the listener.
  TcpEndpoints stranger = *client_ends;
  reinterpret_cast<sockaddr_in&>(stranger.local).sin_port = htons(1);
  ExpectLookupMatchesDump(stranger.Reversed(), port, "no such connection");

  ASSERT_EQ(::send(client->get(), "hello", 5, MSG_NOSIGNAL | MSG_DONTWAIT), 5);
  ASSERT_TRUE(SomeSocketReaches(port, [&](const DiagSocket& s) {
    return s.local_port == port && s.rqueue == 5;
  }));
  ExpectLookupMatchesDump(*server_ends, port, "established, 5 unread");
  ExpectLookupMatchesDump(*client_ends, port, "established, client");

  // The client closes: an orphan in FIN_WAIT2 (a timewait mini-socket once
  // the delayed ACK arrives), the server in CLOSE_WAIT.
  client->reset();
  ASSERT_TRUE(SomeSocketReaches(port, [&](const DiagSocket& s) {
    return s.local_port == client_port && s.state == TCP_FIN_WAIT2;
  }));
  ExpectLookupMatchesDump(*client_ends, port, "FIN_WAIT2 orphan");
  ExpectLookupMatchesDump(*server_ends, port, "CLOSE_WAIT");

  // The server reads everything and closes: the client in TIME_WAIT.
  char buffer[8];
  // Both are there already (5 unread, CLOSE_WAIT): neither read may wait.
  ASSERT_EQ(::recv(server->get(), buffer, sizeof(buffer), MSG_DONTWAIT), 5);
  ASSERT_EQ(::recv(server->get(), buffer, sizeof(buffer), MSG_DONTWAIT), 0);
  server->reset();
  ASSERT_TRUE(Reaches(port, [&](const std::vector<DiagSocket>& sockets) {
    return std::none_of(
        sockets.begin(), sockets.end(), [&](const DiagSocket& s) {
          return s.local_port == port && s.remote_port == client_port;
        });
  }));
  ExpectLookupMatchesDump(*client_ends, port, "TIME_WAIT");
  ExpectLookupMatchesDump(*server_ends, port, "server gone");
}

TEST_P(SockDiagLookupTest, ExactLookupAgreesWithTheDumpForAFinWait1Orphan) {
  absl::StatusOr<UniqueFd> listener = Listen(ListenerFamily(), 4, AnyAddress());
  ASSERT_OK(listener);
  const uint16_t port = LocalPort(listener->get());
  absl::StatusOr<UniqueFd> client = Connect(ClientFamily(), port);
  ASSERT_OK(client);
  absl::StatusOr<UniqueFd> server = Accept(listener->get());
  ASSERT_OK(server);
  absl::StatusOr<TcpEndpoints> server_ends = TcpEndpoints::Of(server->get());
  ASSERT_OK(server_ends);
  // The server fills the client's window (the client never reads), then
  // closes: its FIN waits behind the data, an orphan in FIN_WAIT1 with a
  // send queue and the zero-window probe timer.
  ASSERT_EQ(::fcntl(server->get(), F_SETFL, O_NONBLOCK), 0) << ErrnoName(errno);
  const std::string chunk(16384, 'x');
  while (::send(server->get(), chunk.data(), chunk.size(), MSG_NOSIGNAL) > 0) {
  }
  ASSERT_EQ(errno, EAGAIN) << ErrnoName(errno);
  server->reset();
  // Everything sent is acknowledged and the window is zero (the probe
  // timer): the queues of both ends stay as they are.
  ASSERT_TRUE(SomeSocketReaches(port, [&](const DiagSocket& s) {
    return s.local_port == port && s.state == TCP_FIN_WAIT1 && s.orphan() &&
           s.timer == 4;
  }));
  ExpectLookupMatchesDump(*server_ends, port, "FIN_WAIT1 orphan");
  ExpectLookupMatchesDump(server_ends->Reversed(), port, "the full client");
  // Reset by the client (SO_LINGER 0): nothing of the connection is left.
  const struct linger abort_on_close = {.l_onoff = 1, .l_linger = 0};
  ASSERT_EQ(::setsockopt(client->get(), SOL_SOCKET, SO_LINGER, &abort_on_close,
                         sizeof(abort_on_close)),
            0);
  client->reset();
  ASSERT_TRUE(Reaches(port, [&](const std::vector<DiagSocket>& sockets) {
    return sockets.size() == 1;  // the listener
  }));
  ExpectLookupMatchesDump(*server_ends, port, "reset: server gone");
  ExpectLookupMatchesDump(server_ends->Reversed(), port, "reset: client gone");
}

INSTANTIATE_TEST_SUITE_P(
    Families, SockDiagLookupTest,
    ::testing::Values(LookupFamily::kV4, LookupFamily::kV6,
                      LookupFamily::kV4Mapped),
    [](const ::testing::TestParamInfo<LookupFamily>& info) {
      switch (info.param) {
        case LookupFamily::kV4:
          return "V4";
        case LookupFamily::kV6:
          return "V6";
        case LookupFamily::kV4Mapped:
          return "V4Mapped";
      }
      return "unknown";
    });

}  // namespace
}  // namespace tcpsem
