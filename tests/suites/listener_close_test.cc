// A listener closed while connections it completed still wait in its accept
// queue, holding data their peers sent: nobody will ever read that data, so
// each connection is reset (inet_csk_listen_stop() -> inet_child_forget()
// -> tcp_disconnect(): RFC 2525 2.17's "data was lost" for every child).
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "fixtures/base/wait_until.h"
#include "fixtures/rules/scenario_rules.h"
#include "fixtures/staging/observation.h"
#include "fixtures/staging/socket_pair.h"
#include "fixtures/witnesses/mib_counters.h"
#include "fixtures/witnesses/sock_diag.h"
#include "fixtures/witnesses/tcp_state.h"
#include "fixtures/witnesses/wire_capture.h"
#include "gtest/gtest.h"
#include "tests/harness/case_name.h"
#include "tests/harness/deadline.h"
#include "tests/harness/expect_witness.h"
#include "tests/harness/status_matchers.h"
#include "tests/harness/teardown_test.h"
#include "tests/harness/witness_registry.h"

namespace tcpsem {
namespace {

constexpr int kQueued = 3;
constexpr int kBytes = 10;

class ListenerCloseTest : public TeardownTest,
                          public ::testing::WithParamInterface<Family> {};
TCPSEM_DECLARE_WITNESSES(ListenerCloseTest, {{Witness::kWire, kAsked},
                                             {Witness::kPeerApi, kAsked},
                                             {Witness::kCounters, kAsked},
                                             {Witness::kSockDiag, kAsked},
                                             {Witness::kResetReason, kAsked}});

TEST_P(ListenerCloseTest, QueuedConnectionsWithDataAreReset) {
  RequireFamily(GetParam());
  if (IsSkipped()) return;
  absl::StatusOr<Listener> listener = Listen(GetParam());
  ASSERT_THAT(listener, IsOk());
  const uint16_t port = listener->port;
  // The connections' witnesses; `witnesses.pair` stays empty (the listener
  // never accepts).
  Connection witnesses;
  WatchPort(port, witnesses);
  if (IsSkipped() || HasFatalFailure()) return;
  WireCapture& wire = *witnesses.wire;
  std::vector<UniqueFd> peers;
  for (int i = 0; i < kQueued; ++i) {
    absl::StatusOr<UniqueFd> peer = ConnectPeer(GetParam(), *listener);
    ASSERT_THAT(peer, IsOk());
    ASSERT_EQ(::send(peer->get(), "0123456789", kBytes, 0), kBytes);
    peers.push_back(*std::move(peer));
  }
  // Every child is ESTABLISHED in the accept queue (inode 0) with the data.
  // A dump of the port: the children are counted among whatever is there.
  ASSERT_THAT(WaitUntil(
                  [&]() -> absl::StatusOr<bool> {
                    absl::StatusOr<std::vector<DiagSocket>> sockets =
                        ListTcpSocketsOnPort(port);
                    if (!sockets.ok()) return sockets.status();
                    int ready = 0;
                    for (const DiagSocket& s : *sockets) {
                      ready += s.local_port == port &&
                               TcpStateName(s.state) == "ESTABLISHED" &&
                               s.rqueue == static_cast<uint32_t>(kBytes);
                    }
                    return ready == kQueued;
                  },
                  kDeadline, "the queued children to hold their data"),
              IsOk());
  ASSERT_THAT(wire.Sync(Phase::kShutdown, kDeadline), IsOk());
  absl::StatusOr<MibSnapshot> before = ReadTcpMib();
  ASSERT_THAT(before, IsOk());

  listener->fd.reset();  // close() of the listener
  ASSERT_THAT(wire.Sync(Phase::kClose, kDeadline), IsOk());
  absl::StatusOr<MibSnapshot> after = ReadTcpMib();
  ASSERT_THAT(after, IsOk());
  MibDelta moved = Subtract(*after, *before);
  int sent_resets = 0;
  for (const Segment& s : wire.segments()) {
    sent_resets += s.phase == Phase::kClose &&
                   s.direction == Direction::kToPeer && s.has(TH_RST);
  }
  const std::string rule = Cite("listener.queued-children-reset");
  EXPECT_WITNESS("wire: RSTs at close (one per child)", kQueued, sent_resets,
                 rule);
  EXPECT_WITNESS("counters: OutRsts", kQueued, moved["OutRsts"], rule);
  // Both ends of each leave ESTABLISHED; and these resets come from
  // tcp_disconnect(), not __tcp_close(): TCPAbortOnClose does not count them.
  EXPECT_WITNESS("counters: EstabResets", 2 * kQueued, moved["EstabResets"],
                 rule);
  EXPECT_WITNESS("counters: TCPAbortOnClose", 0, moved["TCPAbortOnClose"],
                 rule);
  RecordProperty("counters_at_close", DeltaToString(moved));
  // A dump of the port: what is left includes sockets no one can name.
  absl::StatusOr<std::vector<DiagSocket>> left = ListTcpSocketsOnPort(port);
  ASSERT_THAT(left, IsOk());
  EXPECT_WITNESS("sock_diag: sockets left", 0, left->size(), rule);
  for (UniqueFd& peer : peers) {
    PeerApi api(peer.get(), kDeadline);
    EXPECT_WITNESS("peer: recv", "ECONNRESET", api.Recv(), rule);
    RecordProperty("peer_calls", api.ToString());
  }
  if (std::optional<std::vector<ResetEvent>> events = PinnedResets(witnesses)) {
    std::vector<std::string> reasons;
    for (const ResetEvent& e : *events) reasons.push_back(e.reason);
    EXPECT_WITNESS("reset reason", "TCP_STATE,TCP_STATE,TCP_STATE",
                   absl::StrJoin(reasons, ","), rule);
  }
}

INSTANTIATE_TEST_SUITE_P(ListenerClose, ListenerCloseTest,
                         ::testing::Values(Family::kV4, Family::kV6),
                         CaseNamer());

}  // namespace
}  // namespace tcpsem
