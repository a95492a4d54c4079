// TCP_LINGER2 < 0: an application that shut down its sending side and
// closes while waiting in FIN_WAIT2 for the peer's FIN asks the kernel not
// to wait at all: tcp_close() resets the connection at once
// (TCPAbortOnLinger, reason TCP_ABORT_ON_LINGER), where the default hands it
// to a FIN_WAIT2 timewait socket and sends nothing.
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "absl/strings/str_cat.h"
#include "fixtures/base/kernel_version.h"
#include "fixtures/base/wait_until.h"
#include "fixtures/rules/rule_table.h"
#include "fixtures/rules/scenario_rules.h"
#include "fixtures/staging/observation.h"
#include "fixtures/staging/socket_pair.h"
#include "fixtures/staging/stage.h"
#include "fixtures/witnesses/mib_counters.h"
#include "fixtures/witnesses/reset_reason.h"
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

struct Linger2Case {
  Family family;
  bool abort;  // TCP_LINGER2 = -1, or left at its default
  std::string Label() const {
    return abort ? "Linger2Negative" : "Linger2Default";
  }
};
void PrintTo(const Linger2Case& c, std::ostream* os) { *os << CaseName(c); }

class FinWait2AbortTest : public TeardownTest,
                          public ::testing::WithParamInterface<Linger2Case> {};
TCPSEM_DECLARE_WITNESSES(FinWait2AbortTest, {{Witness::kWire, kAsked},
                                             {Witness::kPeerApi, kAsked},
                                             {Witness::kCounters, kAsked},
                                             {Witness::kSockDiag, kAsked},
                                             {Witness::kResetReason, kAsked}});

TEST_P(FinWait2AbortTest, CloseInFinWait2) {
  const Linger2Case c = GetParam();
  Connection connection;
  OpenConnection(c.family, connection);
  if (IsSkipped() || HasFatalFailure()) return;
  ConnectedPair& pair = connection.pair;
  WireCapture& wire = *connection.wire;
  const int closer = pair.closer.get();
  if (c.abort) {
    const int linger2 = -1;
    ASSERT_EQ(::setsockopt(closer, IPPROTO_TCP, TCP_LINGER2, &linger2,
                           sizeof(linger2)),
              0);
  }
  // SHUT_WR, then wait for the peer's (delayed) ACK: FIN_WAIT2.
  ASSERT_EQ(::shutdown(closer, SHUT_WR), 0);
  absl::Status finwait2 = WaitForTcpState(closer, "FIN_WAIT2", kDeadline);
  ASSERT_THAT(finwait2, IsOk());
  ASSERT_THAT(wire.Sync(Phase::kShutdown, kDeadline), IsOk());
  absl::StatusOr<MibSnapshot> before = ReadTcpMib();
  ASSERT_THAT(before, IsOk());

  ::close(pair.closer.release());
  ASSERT_THAT(wire.Sync(Phase::kClose, kDeadline), IsOk());
  absl::StatusOr<MibSnapshot> after = ReadTcpMib();
  ASSERT_THAT(after, IsOk());
  MibDelta moved = Subtract(*after, *before);
  Observation o;
  o.segments = wire.segments();
  absl::StatusOr<std::optional<DiagSocket>> left =
      LookupTcpSocket(pair.closer_ends);
  ASSERT_THAT(left, IsOk());
  const std::string closer_left = StateOrGone(*left);

  const std::string rule = Cite(c.abort ? "finwait2.linger2-negative-rst"
                                        : "finwait2.default-timewait");
  EXPECT_WITNESS("wire: close emits", c.abort ? "RST" : "-",
                 o.CloserEmitted(Phase::kClose), rule);
  EXPECT_WITNESS("counters: TCPAbortOnLinger", c.abort ? 1 : 0,
                 moved["TCPAbortOnLinger"], rule);
  if (c.abort) EXPECT_WITNESS("counters: OutRsts", 1, moved["OutRsts"], rule);
  EXPECT_WITNESS("sock_diag: closer after close",
                 c.abort ? "gone" : "FIN_WAIT2", closer_left, rule);
  // The peer read nothing yet: the closer's FIN (at SHUT_WR) is its EOF,
  // which recv() reports before any error the RST left (tcp_recvmsg()
  // checks SOCK_DONE first); tcp_reset() in CLOSE_WAIT sets EPIPE.
  PeerApi& peer = *connection.peer;
  peer.Poll();
  EXPECT_WITNESS("peer: recv", "EOF", peer.RecvToEnd().back(), rule);
  EXPECT_WITNESS("peer: SO_ERROR after recv", c.abort ? "EPIPE" : "0",
                 peer.SocketError(), rule);
  RecordProperty("peer_calls", peer.ToString());
  if (std::optional<std::vector<ResetEvent>> events =
          PinnedResets(connection)) {
    EXPECT_WITNESS("reset reason", c.abort ? "TCP_ABORT_ON_LINGER" : "",
                   ResetReasons(*events), rule);
  }
}

INSTANTIATE_TEST_SUITE_P(FinWait2, FinWait2AbortTest,
                         ::testing::Values(Linger2Case{Family::kV4, true},
                                           Linger2Case{Family::kV6, true},
                                           Linger2Case{Family::kV4, false},
                                           Linger2Case{Family::kV6, false}),
                         CaseNamer());

}  // namespace
}  // namespace tcpsem
