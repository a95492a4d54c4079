// What counts as unread for RFC 2525 2.17: __tcp_close() sums the sequence
// space still in the receive queue (each skb's, minus a FIN), which is not
// always what SIOCINQ (tcp_inq()) reports. Verified on 6.18:
//  - data only peeked (MSG_PEEK) is unread: RST;
//  - data read exactly up to the peer's FIN, the EOF itself not read, is
//    not: the FIN is not data, so close() answers with its own FIN;
//  - an urgent byte read out of band (MSG_OOB) with the normal data before
//    it unread: RST;
//  - the urgent byte read with MSG_OOB and every normal byte read too: still
//    RST, although SIOCINQ says 0: the urgent byte's sequence space stays in
//    the queue until a later read skips it (tcp_recvmsg_locked()'s urg_hole),
//    and __tcp_close() counts it;
//  - data that arrives after shutdown(SHUT_RD) is queued, unread: RST.
#include <sys/socket.h>

#include "absl/strings/str_cat.h"
#include "fixtures/base/wait_until.h"
#include "fixtures/rules/scenario_rules.h"
#include "fixtures/staging/observation.h"
#include "fixtures/witnesses/mib_counters.h"
#include "gtest/gtest.h"
#include "tests/harness/case_name.h"
#include "tests/harness/deadline.h"
#include "tests/harness/expect_witness.h"
#include "tests/harness/status_matchers.h"
#include "tests/harness/teardown_test.h"
#include "tests/harness/witness_registry.h"

namespace tcpsem {
namespace {

enum class Reading {
  kPeekedOnly,          // 10 bytes, read with MSG_PEEK only
  kReadUpToFin,         // 10 bytes + FIN; the 10 read, the EOF not
  kUrgentReadOob,       // 1 urgent byte read with MSG_OOB, 9 normal bytes not
  kUrgentAndDataRead,   // all 9 normal bytes and the urgent one read
  kArrivedAfterShutRd,  // SHUT_RD first, then 10 bytes arrive
};

struct Case {
  Family family;
  Reading reading;
  const char* name;
  const char* close_emits;  // what close() puts on the wire
  int aborts_on_close;      // TCPAbortOnClose delta
  std::string Label() const { return name; }
};

class WhatCountsAsUnreadTest : public TeardownTest,
                               public ::testing::WithParamInterface<Case> {};
TCPSEM_DECLARE_WITNESSES(WhatCountsAsUnreadTest,
                         {{Witness::kWire, kAsked},
                          {Witness::kPeerApi, kAsked},
                          {Witness::kCounters, kAsked},
                          {Witness::kSockDiag, kAsked},
                          {Witness::kResetReason, kAsked}});

TEST_P(WhatCountsAsUnreadTest, CloseDecides) {
  const Case c = GetParam();
  Connection connection;
  OpenConnection(c.family, connection);
  if (IsSkipped() || HasFatalFailure()) return;
  const int closer = connection.pair.closer.get();
  const int peer = connection.pair.peer.get();
  char buffer[64];
  switch (c.reading) {
    case Reading::kPeekedOnly:
      ASSERT_EQ(::send(peer, "0123456789", 10, 0), 10);
      ASSERT_THAT(WaitForReceiveQueue(closer, 10, kDeadline), IsOk());
      ASSERT_EQ(::recv(closer, buffer, sizeof(buffer), MSG_PEEK), 10);
      break;
    case Reading::kReadUpToFin:
      ASSERT_EQ(::send(peer, "0123456789", 10, 0), 10);
      ASSERT_EQ(::shutdown(peer, SHUT_WR), 0);
      ASSERT_THAT(WaitForReceiveQueue(closer, 10, kDeadline), IsOk());
      ASSERT_EQ(::recv(closer, buffer, 10, MSG_WAITALL), 10);
      break;
    case Reading::kUrgentReadOob:
    case Reading::kUrgentAndDataRead:
      ASSERT_EQ(::send(peer, "012345678", 9, 0), 9);
      ASSERT_EQ(::send(peer, "U", 1, MSG_OOB), 1);
      ASSERT_THAT(WaitUntil(
                      [&]() -> absl::StatusOr<bool> {
                        return ::recv(closer, buffer, 1,
                                      MSG_OOB | MSG_DONTWAIT) == 1;
                      },
                      kDeadline, "the urgent byte"),
                  IsOk());
      if (c.reading == Reading::kUrgentAndDataRead) {
        ASSERT_EQ(::recv(closer, buffer, 9, MSG_WAITALL), 9);
      }
      break;
    case Reading::kArrivedAfterShutRd:
      ASSERT_EQ(::shutdown(closer, SHUT_RD), 0);
      ASSERT_EQ(::send(peer, "0123456789", 10, 0), 10);
      ASSERT_THAT(WaitForReceiveQueue(closer, 10, kDeadline), IsOk());
      break;
  }
  absl::StatusOr<int> queued = BytesInReceiveQueue(closer);
  ASSERT_THAT(queued, IsOk());
  RecordProperty("queued_at_close", absl::StrCat(*queued));
  ASSERT_THAT(connection.wire->Sync(Phase::kShutdown, kDeadline), IsOk());
  absl::StatusOr<MibSnapshot> before = ReadTcpMib();
  ASSERT_THAT(before, IsOk());
  ::close(connection.pair.closer.release());
  ASSERT_THAT(connection.wire->Sync(Phase::kClose, kDeadline), IsOk());
  absl::StatusOr<MibSnapshot> after = ReadTcpMib();
  ASSERT_THAT(after, IsOk());
  Observation o;
  o.segments = connection.wire->segments();
  const bool rst = c.aborts_on_close != 0;
  const std::string rule =
      Cite(rst ? "unread.sequence-space" : "unread.fin-is-not-data");
  // SIOCINQ is context, not the judge: it can say 0 where __tcp_close()
  // still counts the urgent byte's sequence space.
  EXPECT_WITNESS(
      "wire: close emits", c.close_emits, o.CloserEmitted(Phase::kClose),
      absl::StrCat(rule, "\n  (SIOCINQ ", *queued, " before close)"));
  EXPECT_WITNESS("counters: TCPAbortOnClose", c.aborts_on_close,
                 Subtract(*after, *before)["TCPAbortOnClose"], rule);
  // A reset closer is gone; one that sent a FIN has its FIN acknowledged
  // at once by a peer that half-closed first (FIN_WAIT2 -> TIME_WAIT), and
  // is gone too (tcp_rcv_state_process(), LAST_ACK).
  EXPECT_WITNESS("sock_diag: closer once acked", "gone",
                 CloserStateOnceAcked(connection), rule);
  // The peer: poll (consumes nothing), recv to the end (it holds none of
  // the closer's data, so the first result ends it), then SO_ERROR.
  PeerApi& peer_api = *connection.peer;
  peer_api.Poll();
  EXPECT_WITNESS("peer: recv", rst ? "ECONNRESET" : "EOF",
                 peer_api.RecvToEnd().back(), rule);
  EXPECT_WITNESS("peer: SO_ERROR after recv", "0", peer_api.SocketError(),
                 rule);
  RecordProperty("peer_calls", peer_api.ToString());
  // The reason: __tcp_close() -> tcp_send_active_reset(...,
  // SK_RST_REASON_TCP_ABORT_ON_CLOSE) for unread data, none for a FIN.
  if (std::optional<std::vector<ResetEvent>> events =
          PinnedResets(connection)) {
    EXPECT_WITNESS("reset reason", rst ? "TCP_ABORT_ON_CLOSE" : "",
                   ResetReasons(*events), rule);
  }
}

std::vector<Case> AllCases() {
  std::vector<Case> cases;
  for (Family family : {Family::kV4, Family::kV6}) {
    const std::vector<Case> per_family = {
        {family, Reading::kPeekedOnly, "PeekedOnly", "RST", 1},
        {family, Reading::kReadUpToFin, "ReadUpToFinNotEof", "FIN", 0},
        {family, Reading::kUrgentReadOob, "UrgentReadOobDataNot", "RST", 1},
        {family, Reading::kUrgentAndDataRead, "UrgentAndDataRead", "RST", 1},
        {family, Reading::kArrivedAfterShutRd, "ArrivedAfterShutRd", "RST", 1},
    };
    cases.insert(cases.end(), per_family.begin(), per_family.end());
  }
  return cases;
}

void PrintTo(const Case& c, std::ostream* os) { *os << CaseName(c); }

INSTANTIATE_TEST_SUITE_P(WhatCountsAsUnread, WhatCountsAsUnreadTest,
                         ::testing::ValuesIn(AllCases()), CaseNamer());

}  // namespace
}  // namespace tcpsem
