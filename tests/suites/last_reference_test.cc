// The last reference decides. A socket closes (and __tcp_close() chooses
// FIN or RST) only when its last file reference goes away: closing one of
// several dup()ed or fork()ed descriptors sends nothing; the last close(),
// process exit, or SIGKILL of the process that holds it does it, by the same
// rule (the kernel's comment in __tcp_close() names "kill -9 the FTP client"
// as the case RFC 2525 2.17 is about).
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "fixtures/base/kernel_version.h"
#include "fixtures/base/wait_until.h"
#include "fixtures/rules/rule_table.h"
#include "fixtures/rules/scenario_rules.h"
#include "fixtures/staging/observation.h"
#include "fixtures/staging/stage.h"
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

enum class LastReference {
  kDupClose,         // close() of the last dup()ed descriptor
  kForkChildClose,   // a fork()ed child closes its copy last
  kForkChildExit,    // the child exits without close()
  kForkChildKilled,  // the child is killed with SIGKILL
};

std::string LastReferenceName(LastReference how) {
  switch (how) {
    case LastReference::kDupClose:
      return "DupClose";
    case LastReference::kForkChildClose:
      return "ForkChildClose";
    case LastReference::kForkChildExit:
      return "ForkChildExit";
    case LastReference::kForkChildKilled:
      return "ForkChildKilled";
  }
  return "?";
}

struct Case {
  Family family;
  LastReference how;
  bool unread;  // the peer's 10 bytes are still unread at the end
  std::string Label() const {
    return absl::StrCat(LastReferenceName(how),
                        unread ? "_Unread10" : "_Unread0");
  }
};
void PrintTo(const Case& c, std::ostream* os) { *os << CaseName(c); }

class LastReferenceTest : public TeardownTest,
                          public ::testing::WithParamInterface<Case> {};
TCPSEM_DECLARE_WITNESSES(LastReferenceTest, {{Witness::kWire, kAsked},
                                             {Witness::kPeerApi, kAsked},
                                             {Witness::kCounters, kAsked},
                                             {Witness::kSockDiag, kAsked},
                                             {Witness::kResetReason, kAsked}});

TEST_P(LastReferenceTest, OnlyTheLastReferenceTearsDown) {
  const Case c = GetParam();
  Connection connection;
  OpenConnection(c.family, connection);
  if (IsSkipped() || HasFatalFailure()) return;
  ConnectedPair& pair = connection.pair;
  WireCapture& wire = *connection.wire;
  if (c.unread) {
    ASSERT_EQ(::send(pair.peer.get(), "0123456789", 10, 0), 10);
    ASSERT_THAT(WaitUntil(
                    [&]() -> absl::StatusOr<bool> {
                      absl::StatusOr<int> inq =
                          BytesInReceiveQueue(pair.closer.get());
                      if (!inq.ok()) return inq.status();
                      return *inq == 10;
                    },
                    kDeadline, "10 bytes at the closer"),
                IsOk());
  }
  // The second reference.
  UniqueFd copy;
  UniqueFd release_child;  // writing to it lets the child go on
  pid_t child = -1;
  if (c.how == LastReference::kDupClose) {
    copy.reset(::dup(pair.closer.get()));
    ASSERT_TRUE(copy.valid());
  } else {
    int ready[2], go[2];
    ASSERT_EQ(::pipe(ready), 0);
    ASSERT_EQ(::pipe(go), 0);
    child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {  // holds its inherited copy; async-signal-safe calls only
      ::close(ready[0]);
      ::close(go[1]);
      ::write(ready[1], "r", 1);
      char byte;
      ::read(go[0], &byte, 1);  // until released (or killed)
      if (c.how == LastReference::kForkChildClose) ::close(pair.closer.get());
      ::_exit(0);  // exit closes whatever is still open (exit_files())
    }
    ::close(ready[1]);
    ::close(go[0]);
    release_child.reset(go[1]);
    char byte;
    ASSERT_EQ(::read(ready[0], &byte, 1), 1);  // the child holds its copy
    ::close(ready[0]);
  }
  ASSERT_THAT(wire.Sync(Phase::kSetup, kDeadline), IsOk());

  // The first close: nothing may leave.
  ::close(pair.closer.release());
  ASSERT_THAT(wire.Sync(Phase::kShutdown, kDeadline), IsOk());
  absl::StatusOr<MibSnapshot> before = ReadTcpMib();
  ASSERT_THAT(before, IsOk());

  // The last reference goes.
  switch (c.how) {
    case LastReference::kDupClose:
      ::close(copy.release());
      break;
    case LastReference::kForkChildClose:
    case LastReference::kForkChildExit:
      ASSERT_EQ(::write(release_child.get(), "g", 1), 1);
      break;
    case LastReference::kForkChildKilled:
      ASSERT_EQ(::kill(child, SIGKILL), 0);
      break;
  }
  if (child > 0) {
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
  }
  ASSERT_THAT(wire.Sync(Phase::kClose, kDeadline), IsOk());
  absl::StatusOr<MibSnapshot> after = ReadTcpMib();
  ASSERT_THAT(after, IsOk());
  MibDelta moved = Subtract(*after, *before);
  Observation o;
  o.segments = wire.segments();

  EXPECT_WITNESS("wire: first close emits", "-",
                 o.CloserEmitted(Phase::kShutdown),
                 Cite("lastref.only-last-closes"));
  const std::string rule = Cite("lastref.exit-and-kill-are-close");
  EXPECT_WITNESS("wire: last close emits", c.unread ? "RST" : "FIN",
                 o.CloserEmitted(Phase::kClose), rule);
  EXPECT_WITNESS("counters: TCPAbortOnClose", c.unread ? 1 : 0,
                 moved["TCPAbortOnClose"], rule);
  EXPECT_WITNESS("sock_diag: closer once acked",
                 c.unread ? "gone" : "FIN_WAIT2",
                 CloserStateOnceAcked(connection), rule);
  // The peer: poll (consumes nothing), recv to the end (consumes a pending
  // error), then SO_ERROR (which recv() has cleared).
  PeerApi& peer = *connection.peer;
  peer.Poll();
  EXPECT_WITNESS("peer: recv", c.unread ? "ECONNRESET" : "EOF",
                 peer.RecvToEnd().back(), rule);
  EXPECT_WITNESS("peer: SO_ERROR after recv", "0", peer.SocketError(), rule);
  RecordProperty("peer_calls", peer.ToString());
  if (std::optional<std::vector<ResetEvent>> events =
          PinnedResets(connection)) {
    EXPECT_WITNESS("reset reason", c.unread ? "TCP_ABORT_ON_CLOSE" : "",
                   ResetReasons(*events), rule);
  }
}

std::vector<Case> Cases() {
  std::vector<Case> cases;
  for (Family family : {Family::kV4, Family::kV6}) {
    for (LastReference how :
         {LastReference::kDupClose, LastReference::kForkChildClose,
          LastReference::kForkChildExit, LastReference::kForkChildKilled}) {
      for (bool unread : {true, false}) cases.push_back({family, how, unread});
    }
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(LastReference, LastReferenceTest,
                         ::testing::ValuesIn(Cases()), CaseNamer());

}  // namespace
}  // namespace tcpsem
