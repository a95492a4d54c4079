#include "tests/harness/teardown_test.h"

#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <iostream>

#include "absl/algorithm/container.h"
#include "absl/cleanup/cleanup.h"
#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "fixtures/base/errno_status.h"
#include "fixtures/base/kernel_version.h"
#include "fixtures/base/wait_until.h"
#include "fixtures/config/run_profile.h"
#include "fixtures/config/suite_flags.h"
#include "fixtures/reports/failure_report.h"
#include "fixtures/reports/ladder.h"
#include "fixtures/reports/run_log.h"
#include "fixtures/rules/rule_table.h"
#include "fixtures/staging/stage.h"
#include "fixtures/staging/stage_liveness.h"
#include "fixtures/witnesses/liveness.h"
#include "fixtures/witnesses/pcap_file.h"
#include "fixtures/witnesses/sock_diag.h"
#include "fixtures/witnesses/witness_seams.h"
#include "tests/harness/deadline.h"
#include "tests/harness/witness_recorder.h"
#include "tests/harness/witness_registry.h"

namespace tcpsem {

void TeardownTest::SetUp() {
  if (InScenarioRecord()) {
    const ::testing::TestInfo* test =
        ::testing::UnitTest::GetInstance()->current_test_info();
    TestWitnesses().Begin(
        absl::StrCat(test->test_suite_name(), ".", test->name()));
  }
  absl::StatusOr<PrivateNetns> netns = PrivateNetns::Enter();
  if (!netns.ok()) {
    GTEST_SKIP() << "needs a private network namespace (run as root, or with "
                    "CAP_SYS_ADMIN and CAP_NET_RAW): "
                 << netns.status().message();
  }
  netns_.emplace(*std::move(netns));
  RecordDeclaredWitnesses();
  // The counters witness starts from this namespace's own zero.
  absl::StatusOr<MibSnapshot> counters = ReadTcpMib();
  if (!counters.ok()) {
    Distrust(absl::FailedPreconditionError(
        absl::StrCat("counters: ", counters.status().ToString())));
  } else {
    counters_at_entry_ = *std::move(counters);
    Distrust(CountersAtNamespaceZero(counters_at_entry_));
  }
  absl::StatusOr<Profile> profile = ApplyRunProfile(*netns_);
  if (!profile.ok()) {
    FAIL() << "the sysctl profile " << RunProfileSummary()
           << " could not be applied in the test's namespace: "
           << profile.status().message();
  }
}

void TeardownTest::RequireFamily(Family family) {
  if (family != Family::kV4 && !netns_->has_ipv6()) {
    GTEST_SKIP() << "needs IPv6 on lo (IPv6 disabled or not built in)";
  }
}

void TeardownTest::RequireDefaultBuffers() {
  // The kernel's default (middle) values: tcp_sk_init() in
  // net/ipv4/tcp_ipv4.c (tcp_rmem[1] 131072, tcp_wmem[1] 16384).
  const std::pair<const char*, int64_t> defaults[] = {
      {"net.ipv4.tcp_rmem", 131072}, {"net.ipv4.tcp_wmem", 16384}};
  for (const auto& [key, default_size] : defaults) {
    auto it = RunProfile().settings.find(key);
    if (it == RunProfile().settings.end()) continue;
    std::vector<std::string> sizes = absl::StrSplit(
        it->second.value, absl::ByAnyChar(" \t"), absl::SkipWhitespace());
    int64_t size = 0;
    if (sizes.size() == 3 && absl::SimpleAtoi(sizes[1], &size) &&
        size >= default_size) {
      continue;
    }
    GTEST_SKIP() << "the staging needs " << key << " no smaller than the "
                 << "kernel's default (" << default_size
                 << " bytes); the profile sets it: " << RunProfileSummary();
  }
}

void TeardownTest::OpenConnection(Family family, Connection& out,
                                  int closer_rcvbuf) {
  RequireFamily(family);
  if (IsSkipped()) return;
  absl::StatusOr<Listener> listener = Listen(family);
  ASSERT_TRUE(listener.ok()) << listener.status();
  if (closer_rcvbuf > 0) {
    ASSERT_EQ(::setsockopt(listener->fd.get(), SOL_SOCKET, SO_RCVBUF,
                           &closer_rcvbuf, sizeof(closer_rcvbuf)),
              0)
        << ErrnoStatus("setsockopt(listener, SO_RCVBUF)");
  }
  WatchPort(listener->port, out);
  if (IsSkipped() || HasFatalFailure()) return;
  absl::StatusOr<ConnectedPair> pair = Connect(family, *listener);
  ASSERT_TRUE(pair.ok()) << pair.status();
  out.pair = *std::move(pair);
  listener->fd.reset();
  if (out.resets != nullptr) out.resets->set_peer_port(out.pair.peer_port);
  out.peer = std::make_shared<PeerApi>(out.pair.peer.get(), kDeadline);
  peers_.push_back(out.peer);
  CheckSetupLiveness(out);
}

void TeardownTest::WitnessNotTrusted(const absl::Status& why) {
  ADD_FAILURE() << "witness not trusted: " << why.message()
                << "\n(the test's \"nothing happened\" expectations on it "
                   "would pass blind; fixtures/witnesses/liveness.h)";
}

void TeardownTest::Distrust(const absl::Status& why) {
  if (why.ok()) return;
  // One report per witness: the name before the first ':'.
  const std::string witness(why.message().substr(0, why.message().find(':')));
  if (distrusted_.insert(witness).second) WitnessNotTrusted(why);
}

void TeardownTest::RecordDeclaredWitnesses() {
  const std::string suite = ::testing::UnitTest::GetInstance()
                                ->current_test_info()
                                ->test_suite_name();
  const WitnessUses* uses = DeclaredWitnesses(suite);
  if (uses == nullptr) {
    ADD_FAILURE() << "suite " << suite << " declares no witnesses: add "
                  << "TCPSEM_DECLARE_WITNESSES (tests/harness/"
                     "witness_registry.h)";
    return;
  }
  for (const std::string& problem : DeclarationProblems(*uses)) {
    ADD_FAILURE() << "suite " << suite << " witness declaration: " << problem;
  }
  for (const auto& [witness, use] : *uses) {
    RecordProperty(absl::StrCat("witness.", WitnessName(witness)), use);
  }
}

void TeardownTest::WatchPort(uint16_t port, Connection& out) {
  if (pin_ == nullptr) {
    // The wire witness's Sync() needs the thread on one CPU (cpu_pin.h).
    absl::StatusOr<std::unique_ptr<CpuPin>> pin = CpuPin::ToCurrentCpu();
    ASSERT_TRUE(pin.ok()) << pin.status();
    pin_ = *std::move(pin);
  }
  absl::StatusOr<std::unique_ptr<WireCapture>> wire = WireCapture::Start(port);
  if (absl::IsPermissionDenied(wire.status())) {
    GTEST_SKIP() << wire.status().message();
  }
  ASSERT_TRUE(wire.ok()) << wire.status();
  out.wire = *std::move(wire);
  reported_wire_ = out.wire;
  absl::StatusOr<std::unique_ptr<ResetReasonWatch>> resets =
      WatchResets(ResetWatchPort(port));
  if (resets.ok()) {
    out.resets = *std::move(resets);
  } else {
    resets_unavailable_ =
        absl::StrCat("unavailable: ", resets.status().message());
    RecordProperty("reset_reasons", resets_unavailable_);
  }
  watched_.push_back({out.wire, out.resets});
}

void TeardownTest::CheckSetupLiveness(const Connection& c) {
  // Only what cannot wait: the new sockets, before the test closes them.
  // The wire, the counters and the reset watch are judged in TearDown(),
  // which keeps the time between the handshake and the test's first move
  // as it was (CloserUnsentData's stagings race the peer's delayed ACK).
  for (const absl::Status& why :
       SetupLiveness(c.pair, nullptr, nullptr, nullptr)) {
    Distrust(why);
  }
}

void TeardownTest::CheckFinalLiveness() {
  if (!watched_.empty()) {
    absl::StatusOr<MibSnapshot> now = ReadTcpMib();
    Distrust(now.ok()
                 ? CountersMovedDuringSetup(Subtract(*now, counters_at_entry_))
                 : absl::FailedPreconditionError(
                       absl::StrCat("counters: ", now.status().ToString())));
  }
  for (const Watched& w : watched_) {
    std::optional<size_t> reset_events;
    if (w.resets != nullptr) {
      Distrust(ResetFormatMatches(*w.resets));
      absl::StatusOr<std::vector<ResetEvent>> events = w.resets->Collect();
      if (events.ok()) {
        reset_events = events->size();
      } else {
        Distrust(absl::FailedPreconditionError(
            absl::StrCat("reset reason: ", events.status().ToString())));
      }
    }
    for (const absl::Status& why :
         FinalLiveness(*w.wire, reset_events, nullptr)) {
      Distrust(why);
    }
  }
  for (const std::shared_ptr<PeerApi>& peer : peers_) {
    Distrust(PeerResultsRecorded(*peer));
  }
}

std::optional<std::vector<ResetEvent>> TeardownTest::PinnedResets(
    const ResetReasonWatch* watch) {
  if (watch == nullptr) {  // the property says why
    TestWitnesses().Unobservable(kResetReasonWitness,
                                 resets_unavailable_.empty()
                                     ? "unavailable: no reset-reason watch"
                                     : resets_unavailable_);
    return std::nullopt;
  }
  absl::StatusOr<KernelVersion> kernel = RunningKernelVersion();
  if (!kernel.ok() || *kernel < kResetReasonsPinnedSince) {
    const std::string why =
        absl::StrCat("not judged: reasons are pinned from ",
                     kResetReasonsPinnedSince.ToString(),
                     " on; this kernel is ", RunningKernelDescription());
    RecordProperty("reset_reasons", why);
    TestWitnesses().Unobservable(kResetReasonWitness, why);
    return std::nullopt;
  }
  absl::StatusOr<std::vector<ResetEvent>> events = watch->Collect();
  if (!events.ok()) {
    ADD_FAILURE() << "the reset-reason witness failed: " << events.status();
    return std::nullopt;
  }
  return *std::move(events);
}

std::string TeardownTest::CloserStateOnceAcked(const Connection& c) {
  // The FIN's ACK, processed (Sync() queues behind it), before listing:
  // a listing during the FIN_WAIT1 -> FIN_WAIT2 handover can miss both the
  // orphan and the timewait socket replacing it.
  std::optional<uint32_t> fin_end;
  for (const Segment& s : c.wire->segments()) {
    if (s.direction == Direction::kToPeer && s.has(TH_FIN)) {
      fin_end = s.seq + s.length + 1;
    }
  }
  if (fin_end.has_value()) {
    absl::StatusOr<bool> acked = c.wire->WaitFor(
        Phase::kAfter,
        [&](const Segment& s) {
          return s.direction == Direction::kToCloser &&
                 (s.has(TH_RST) ||
                  (s.has(TH_ACK) &&
                   static_cast<int32_t>(s.ack - *fin_end) >= 0));
        },
        kDeadline);
    if (!acked.ok()) ADD_FAILURE() << "wire: " << acked.status();
  }
  if (absl::Status synced = c.wire->Sync(Phase::kAfter, kDeadline);
      !synced.ok()) {
    ADD_FAILURE() << "wire: " << synced;
  }
  absl::StatusOr<std::optional<DiagSocket>> closer =
      LookupTcpSocket(c.pair.closer_ends);
  if (!closer.ok()) {
    ADD_FAILURE() << "sock_diag: " << closer.status();
    return closer.status().ToString();
  }
  return StateOrGone(*closer);
}

std::string TeardownTest::ResetReasons(const std::vector<ResetEvent>& events) {
  return absl::StrJoin(events, ",", [](std::string* out, const ResetEvent& e) {
    out->append(e.reason);
  });
}

std::string TeardownTest::FailureArtifactPath() {
  const ::testing::TestInfo* test =
      ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = absl::StrCat(test->test_suite_name(), ".", test->name());
  absl::c_replace(name, '/', '_');
  return absl::StrCat(ArtifactsDir(), "/", name, ".pcap");
}

void TeardownTest::TearDown() {
  absl::Cleanup unpin = [this] { pin_.reset(); };
  CheckFinalLiveness();
  if (reported_wire_ == nullptr) return;
  // Whatever is still queued in the capture belongs to the story too.
  const absl::Status drained = reported_wire_->Drain(Phase::kAfter);
  TestWitnesses().SetLadder(RenderLadder(reported_wire_->segments()));
  if (!HasFailure()) return;
  if (!drained.ok()) std::cout << "(capture not drained: " << drained << ")\n";
  std::cout << "profile:  " << RunProfileSummary() << "\n"
            << "the connection as captured (peer left, closing side right):\n"
            << RenderLadder(reported_wire_->segments());
  if (absl::StatusOr<std::string> path = SaveCapture(reported_wire_->frames());
      path.ok()) {
    std::cout << "capture saved: " << *path << "\n";
  } else {
    std::cout << "could not save the capture: " << path.status() << "\n";
  }
}

absl::StatusOr<std::string> TeardownTest::SaveCapture(
    const std::vector<Frame>& frames) {
  // Created 0755 if missing; refused if a link, another user's, or writable
  // by others (another user could plant or redirect the capture).
  if (absl::Status dir = PrepareArtifactsDir(); !dir.ok()) return dir;
  std::string path = FailureArtifactPath();
  if (absl::Status saved = WritePcapFile(frames, path); !saved.ok()) {
    return saved;
  }
  return path;
}

std::optional<CellResult> TeardownTest::StageAndJudge(
    const Scenario& scenario, const StageOptions& options,
    bool expect_agreement) {
  StageOptions effective = options;
  effective.reset_reasons &= absl::GetFlag(FLAGS_tcpsem_reset_reasons);
  // A zero orphan limit only bites once the kernel counts an orphan.
  if (auto it = RunProfile().settings.find("net.ipv4.tcp_max_orphans");
      it != RunProfile().settings.end() && it->second.value == "0") {
    effective.orphans_over_limit = true;
  }
  if (absl::GetFlag(FLAGS_tcpsem_inject_drain_fault)) {
    effective.fault = Fault::kDrainBeforeClose;
  }
  absl::StatusOr<CellResult> result = RunCell(scenario, effective);
  if (!result.ok()) {
    if (absl::IsPermissionDenied(result.status())) {
      ::testing::internal::AssertHelper(::testing::TestPartResult::kSkip,
                                        __FILE__, __LINE__, "") =
          ::testing::Message()
          << "missing privilege: " << result.status().message();
      return std::nullopt;
    }
    ADD_FAILURE() << "staging failed (not a verdict on the kernel): "
                  << result.status();
    return std::nullopt;
  }
  if (result->stagings > 1) {
    RecordProperty("stagings",
                   absl::StrCat(result->stagings, " (the FIN_WAIT2 holder: ",
                                result->observation.fin_wait2_holder.full_orphan
                                    ? "full orphan every time"
                                    : "timewait in the end",
                                ")"));
  }
  for (const std::string& why : result->observation.untrusted) {
    Distrust(absl::FailedPreconditionError(why));
  }
  if (!result->mismatches.empty() && expect_agreement) {
    if (absl::StatusOr<std::string> path =
            SaveCapture(result->observation.frames);
        path.ok()) {
      result->pcap_path = *path;
    } else {
      ADD_FAILURE() << "could not save the capture: " << path.status();
    }
    ADD_FAILURE() << "the kernel disagrees with the rule table\n"
                  << "profile:  " << RunProfileSummary() << "\n"
                  << ExplainFailure(*result);
  }
  if (!result->observation.resets.has_value()) {
    RecordProperty("reset_reasons",
                   "unavailable: " + result->observation.resets_unavailable);
  }
  // The record is the kernel's behaviour: cells staged with an injected
  // fault, or seen by a witness that is not trusted, are not part of it.
  if (effective.fault == Fault::kNone &&
      result->observation.untrusted.empty()) {
    RunLog::Get().Add(*result);
  }
  return *std::move(result);
}

}  // namespace tcpsem
