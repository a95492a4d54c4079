// SO_LINGER with a timeout: close() waits until the FIN is acknowledged or
// the timeout passes (inet_release() -> __tcp_close() ->
// sk_stream_wait_close()), on blocking and non-blocking sockets alike. With
// the peer's window open it returns as soon as the (delayed) ACK of the FIN
// arrives; with the peer's window closed the FIN waits behind the closer's
// own unsent data and close() returns after the full linger time, leaving an
// orphan in FIN_WAIT1 that still holds the data. Nothing is unread, so no
// RST either way.
#include <fcntl.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "fixtures/base/wait_until.h"
#include "fixtures/rules/scenario_rules.h"
#include "fixtures/staging/fill_window.h"
#include "fixtures/staging/observation.h"
#include "fixtures/staging/socket_pair.h"
#include "fixtures/witnesses/mib_counters.h"
#include "fixtures/witnesses/sock_diag.h"
#include "fixtures/witnesses/tcp_state.h"
#include "gtest/gtest.h"
#include "tests/harness/case_name.h"
#include "tests/harness/deadline.h"
#include "tests/harness/expect_witness.h"
#include "tests/harness/status_matchers.h"
#include "tests/harness/teardown_test.h"
#include "tests/harness/witness_registry.h"

namespace tcpsem {
namespace {

constexpr int kLingerSeconds = 1;

struct Case {
  Family family;
  bool peer_window_closed;
  bool nonblocking;
  std::string Label() const {
    return absl::StrCat("PeerWindow", peer_window_closed ? "Closed" : "Open",
                        nonblocking ? "NonBlocking" : "");
  }
};

void PrintTo(const Case& c, std::ostream* os) { *os << CaseName(c); }

class LingerWaitTest : public TeardownTest,
                       public ::testing::WithParamInterface<Case> {};
TCPSEM_DECLARE_WITNESSES(LingerWaitTest, {{Witness::kWire, kAsked},
                                          {Witness::kPeerApi, kAsked},
                                          {Witness::kCounters, kAsked},
                                          {Witness::kSockDiag, kAsked},
                                          {Witness::kResetReason, kAsked}});

TEST_P(LingerWaitTest, CloseWaitsForTheFinOrTheTimeout) {
  const Case c = GetParam();
  Connection connection;
  OpenConnection(c.family, connection);
  if (IsSkipped() || HasFatalFailure()) return;
  const int closer = connection.pair.closer.get();
  // The closer's own data, which the peer never reads: with the window
  // open, a small amount that fits any profile's receive buffer.
  constexpr int kOpenWindowBytes = 1000;
  const std::vector<char> data(kOpenWindowBytes, 'c');
  if (c.peer_window_closed) {
    // Until the peer's window is zero and the closer's buffer full.
    absl::StatusOr<int> written = FillWindow(closer, kDeadline);
    ASSERT_THAT(written, IsOk());
  } else {
    ASSERT_EQ(::send(closer, data.data(), data.size(), 0), kOpenWindowBytes);
    ASSERT_THAT(WaitUntil(
                    [&]() -> absl::StatusOr<bool> {
                      absl::StatusOr<int> outq = BytesInSendQueue(closer);
                      if (!outq.ok()) return outq.status();
                      return *outq == 0;  // all acknowledged
                    },
                    kDeadline, "the data to be acknowledged"),
                IsOk());
  }
  const struct linger linger = {1, kLingerSeconds};
  ASSERT_EQ(
      ::setsockopt(closer, SOL_SOCKET, SO_LINGER, &linger, sizeof(linger)), 0);
  if (c.nonblocking) {
    ASSERT_EQ(::fcntl(closer, F_SETFL, ::fcntl(closer, F_GETFL) | O_NONBLOCK),
              0);
  }
  absl::StatusOr<int> unsent = BytesInSendQueue(closer);
  ASSERT_THAT(unsent, IsOk());
  ASSERT_THAT(connection.wire->Sync(Phase::kShutdown, kDeadline), IsOk());
  absl::StatusOr<MibSnapshot> before = ReadTcpMib();
  ASSERT_THAT(before, IsOk());

  const absl::Time start = absl::Now();
  EXPECT_EQ(::close(connection.pair.closer.release()), 0);
  const absl::Duration took = absl::Now() - start;
  ASSERT_THAT(connection.wire->Sync(Phase::kClose, kDeadline), IsOk());
  absl::StatusOr<MibSnapshot> after = ReadTcpMib();
  ASSERT_THAT(after, IsOk());
  absl::StatusOr<std::optional<DiagSocket>> left =
      LookupTcpSocket(connection.pair.closer_ends);
  ASSERT_THAT(left, IsOk());
  const std::string closer_state = StateOrGone(*left);
  RecordProperty("close_took_us",
                 absl::StrCat(absl::ToInt64Microseconds(took)));
  std::cout << CaseName(c) << ": close() took " << absl::FormatDuration(took)
            << " with " << *unsent << " bytes unacknowledged; closer now "
            << closer_state << "\n";
  Observation o;
  o.segments = connection.wire->segments();
  MibDelta moved = Subtract(*after, *before);
  const std::string rule =
      Cite(c.peer_window_closed ? "linger.timeout-leaves-orphan"
                                : "linger.returns-on-fin-ack");
  EXPECT_WITNESS("counters: TCPAbortOn{Close,Data,Linger}", 0,
                 moved["TCPAbortOnClose"] + moved["TCPAbortOnData"] +
                     moved["TCPAbortOnLinger"],
                 rule);
  if (c.peer_window_closed) {
    // The whole linger time, then an orphan in FIN_WAIT1 with the data; the
    // FIN never left (it waits behind the data the zero window holds).
    EXPECT_GE(took, absl::Seconds(kLingerSeconds) - absl::Milliseconds(20))
        << rule;
    EXPECT_LT(took, absl::Seconds(kLingerSeconds) + absl::Milliseconds(500))
        << rule;
  } else {
    // Back as soon as the FIN is acknowledged: well under the linger time.
    EXPECT_LT(took, absl::Milliseconds(500)) << rule;
  }
  EXPECT_WITNESS("wire: close emits", c.peer_window_closed ? "-" : "FIN",
                 o.CloserEmitted(Phase::kClose), rule);
  EXPECT_WITNESS("sock_diag: closer after close",
                 c.peer_window_closed ? "FIN_WAIT1" : "FIN_WAIT2", closer_state,
                 rule);
  // The peer holds the closer's data unread on purpose; poll() consumes
  // nothing: readable, and the FIN seen only where it left (RDHUP).
  EXPECT_WITNESS("peer: poll", c.peer_window_closed ? "IN,OUT" : "IN,OUT,RDHUP",
                 connection.peer->Poll(), rule);
  // Lingering never resets: no RST at all.
  if (std::optional<std::vector<ResetEvent>> events =
          PinnedResets(connection)) {
    EXPECT_WITNESS("reset reason", "", ResetReasons(*events), rule);
  }
}

std::vector<Case> AllCases() {
  std::vector<Case> cases;
  for (Family family : {Family::kV4, Family::kV6}) {
    for (bool window_closed : {false, true}) {
      for (bool nonblocking : {false, true}) {
        cases.push_back({family, window_closed, nonblocking});
      }
    }
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(LingerWait, LingerWaitTest,
                         ::testing::ValuesIn(AllCases()), CaseNamer());

}  // namespace
}  // namespace tcpsem
