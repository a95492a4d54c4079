// The base of every teardown test: a private network namespace per test, the
// prerequisites checked (skipped with a reason, never passed), and one call
// that stages a scenario, judges it and explains a failure.
#pragma once

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "fixtures/base/cpu_pin.h"
#include "fixtures/isolation/netns.h"
#include "fixtures/rules/cell_result.h"
#include "fixtures/staging/socket_pair.h"
#include "fixtures/witnesses/mib_counters.h"
#include "fixtures/witnesses/peer_api.h"
#include "fixtures/witnesses/reset_reason.h"
#include "fixtures/witnesses/wire_capture.h"
#include "gtest/gtest.h"

namespace tcpsem {

class TeardownTest : public ::testing::Test {
 protected:
  void SetUp() override;
  // Skips when `scenario` needs IPv6 and the namespace has none.
  void RequireFamily(Family family);
  // Stages and judges `scenario`; records the result for the run's table
  // and record; on disagreement fails with the full explanation and saves
  // the capture. Returns nullopt when staging itself failed (also a failure).
  std::optional<CellResult> StageAndJudge(const Scenario& scenario,
                                          const StageOptions& options = {},
                                          bool expect_agreement = true);

  // For scenario tests outside the matrix: a connected pair of `family`
  // with the wire captured and RST reasons watched (null when that witness
  // is unavailable here). The listener is closed. Fails or skips the test
  // (check HasFatalFailure()/IsSkipped()) when it cannot be set up. Should
  // the test fail, TearDown() prints the connection's ladder and saves its
  // capture (FailureArtifactPath()).
  //
  // Every witness proves it is alive (fixtures/witnesses/liveness.h): right
  // after the handshake the wire holds it, the counters moved, sock_diag
  // lists both ends and TCP_INFO reads ESTABLISHED; in TearDown() the
  // capture lost nothing, every peer call has its result, and the reset
  // watch saw an event whenever the wire saw a RST. A witness that fails is
  // reported through WitnessNotTrusted().
  struct Connection {
    ConnectedPair pair;
    std::shared_ptr<WireCapture> wire;
    std::shared_ptr<ResetReasonWatch> resets;
    // The peer API witness, on pair.peer (null until a pair is connected).
    std::shared_ptr<PeerApi> peer;
  };
  // `closer_rcvbuf` > 0: the listener's SO_RCVBUF before the handshake, so
  // the accepted closing side inherits it (sk_clone_lock()) and advertises
  // its first window from it.
  void OpenConnection(Family family, Connection& out, int closer_rcvbuf = 0);
  // The witnesses of connections to `port` (a listener's), in `out.wire` and
  // `out.resets`: pins the thread to its CPU until TearDown() (as
  // WireCapture::Sync() needs), starts the capture (skips the test without
  // CAP_NET_RAW) and the reset watch (null, with a test property saying why,
  // where unavailable). OpenConnection() calls it; a test with several
  // connections on one listener calls it itself.
  void WatchPort(uint16_t port, Connection& out);
  // Skips the test (with the reason) when the run's profile makes the
  // default net.ipv4.tcp_rmem or tcp_wmem size smaller than the kernel's:
  // for stagings whose premise is room in the buffers (autotuning room, a
  // send that fits at once).
  void RequireDefaultBuffers();

  // The connection's RSTs with the kernel's reasons, when that witness can
  // be judged here: nullopt (and a test property saying why) when the
  // tracepoint is unavailable or the kernel predates
  // kResetReasonsPinnedSince; a test failure when reading it fails.
  std::optional<std::vector<ResetEvent>> PinnedResets(
      const ResetReasonWatch* watch);
  std::optional<std::vector<ResetEvent>> PinnedResets(
      const Connection& connection) {
    return PinnedResets(connection.resets.get());
  }

  // The closing side's socket as sock_diag lists it once the peer has
  // acknowledged its FIN (if it sent one; the peer may delay that ACK,
  // tcp_fin()'s pingpong mode): a state name or "gone". Waits at most
  // kDeadline (3 s) for the ACK on the wire; failures to observe are test
  // failures.
  std::string CloserStateOnceAcked(const Connection& connection);
  // The events' reasons joined by ",", in order ("" for none).
  static std::string ResetReasons(const std::vector<ResetEvent>& events);

  void TearDown() override;
  // Whether the test is one cell of kind "scenario" in the run's record
  // (witness_recorder.h): its EXPECT_WITNESS observations, verdict and
  // ladder. False for tests whose record cells are the matrix's
  // (StageAndJudge) and for self-tests, which blind or fault their
  // witnesses on purpose: what they see is not the kernel's behaviour.
  virtual bool InScenarioRecord() const { return true; }
  // <artifacts>/<suite>.<test>.pcap, one per test (parameters included).
  static std::string FailureArtifactPath();

  // Liveness of the connection's witnesses at the end of its setup:
  // OpenConnection() calls it; call it after connecting pairs by hand.
  void CheckSetupLiveness(const Connection& connection);
  // Liveness at the end of the test (TearDown() calls it).
  void CheckFinalLiveness();
  // A witness is not trusted (`why` names it): a test failure, reported
  // once per witness. The self-tests collect these instead.
  virtual void WitnessNotTrusted(const absl::Status& why);

  std::optional<PrivateNetns> netns_;

 private:
  void Distrust(const absl::Status& why);
  // Saves `frames` at FailureArtifactPath(); returns the path.
  static absl::StatusOr<std::string> SaveCapture(
      const std::vector<Frame>& frames);
  void RecordDeclaredWitnesses();
  // The namespace's counters when the test entered it.
  MibSnapshot counters_at_entry_;
  // Every connection's witnesses, for CheckFinalLiveness().
  struct Watched {
    std::shared_ptr<WireCapture> wire;
    std::shared_ptr<ResetReasonWatch> resets;  // null where unavailable
  };
  std::vector<Watched> watched_;
  std::vector<std::shared_ptr<PeerApi>> peers_;
  std::set<std::string> distrusted_;
  // WatchPort() pins the test's thread to one CPU until TearDown().
  std::unique_ptr<CpuPin> pin_;
  // The capture of the last OpenConnection(), for the failure report.
  std::shared_ptr<WireCapture> reported_wire_;
  // Why WatchPort() has no reset watch ("" when it has one).
  std::string resets_unavailable_;
};

}  // namespace tcpsem
