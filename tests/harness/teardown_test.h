// The base of every teardown test: a private network namespace per test, the
// prerequisites checked (skipped with a reason, never passed), and one call
// that stages a scenario, judges it and explains a failure.
#pragma once

#include <memory>
#include <optional>

#include "fixtures/base/cpu_pin.h"
#include "fixtures/isolation/netns.h"
#include "fixtures/rules/cell_result.h"
#include "fixtures/staging/socket_pair.h"
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
  struct Connection {
    ConnectedPair pair;
    std::shared_ptr<WireCapture> wire;
    std::unique_ptr<ResetReasonWatch> resets;
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

  void TearDown() override;
  // <artifacts>/<suite>.<test>.pcap, one per test (parameters included).
  static std::string FailureArtifactPath();

  std::optional<PrivateNetns> netns_;

 private:
  // WatchPort() pins the test's thread to one CPU until TearDown().
  std::unique_ptr<CpuPin> pin_;
  // The capture of the last OpenConnection(), for the failure report.
  std::shared_ptr<WireCapture> reported_wire_;
};

}  // namespace tcpsem
