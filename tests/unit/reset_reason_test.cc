#include "fixtures/witnesses/reset_reason.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fixtures/isolation/netns.h"
#include "fixtures/staging/socket_pair.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/harness/status_matchers.h"

namespace tcpsem {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;

// ---- Parsing (no tracefs needed) ----

// tcp_send_reset's format as a 6.18 kernel prints it, shortened, with the
// reason numbers shifted and a gap, as another kernel might number them.
constexpr char kSampleFormat[] = R"(name: tcp_send_reset
ID: 2280
format:
	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:int common_pid;	offset:4;	size:4;	signed:1;

	field:const void * skbaddr;	offset:8;	size:8;	signed:0;
	field:int state;	offset:24;	size:4;	signed:1;
	field:enum sk_rst_reason reason;	offset:28;	size:4;	signed:0;
	field:__u8 saddr[28];	offset:32;	size:28;	signed:0;

print fmt: "skbaddr=%p skaddr=%p src=%pISpc dest=%pISpc state=%s reason=%s", REC->skbaddr, REC->skaddr, REC->saddr, REC->daddr, REC->state ? __print_symbolic(REC->state, { TCP_ESTABLISHED, "TCP_ESTABLISHED" }, { TCP_SYN_SENT, "TCP_SYN_SENT" }, { TCP_CLOSE, "TCP_CLOSE" }) : "UNKNOWN", __print_symbolic(REC->reason, { 0, "NOT_SPECIFIED" }, { 1, "NO_SOCKET" }, { 2, "TCP_INVALID_ACK_SEQUENCE" }, { 4, "TCP_ABORT_ON_CLOSE" },{5,"TCP_STATE"}, { 0x6, "MAX" })
)";

// The pre-6.10 layout: ports as fields, no reason.
constexpr char kOldFormat[] = R"(name: tcp_send_reset
format:
	field:const void * skbaddr;	offset:8;	size:8;	signed:0;
	field:__u16 sport;	offset:24;	size:2;	signed:0;
	field:__u16 dport;	offset:26;	size:2;	signed:0;
	field:__u8 saddr[4];	offset:28;	size:4;	signed:0;

print fmt: "sport=%hu dport=%hu saddr=%pI4 daddr=%pI4 state=%s", REC->sport, REC->dport, REC->saddr, REC->daddr, __print_symbolic(REC->state, { TCP_ESTABLISHED, "TCP_ESTABLISHED" })
)";

TEST(ResetReasonParseTest, ExtractsReasonNamesByValue) {
  absl::StatusOr<std::vector<std::string>> names =
      ParseResetReasonNames(kSampleFormat);
  ASSERT_OK(names);
  EXPECT_THAT(*names, ElementsAre("NOT_SPECIFIED", "NO_SOCKET",
                                  "TCP_INVALID_ACK_SEQUENCE", "REASON?3",
                                  "TCP_ABORT_ON_CLOSE", "TCP_STATE", "MAX"));
}

TEST(ResetReasonParseTest, ExtractsStateListWithMacroKeys) {
  absl::StatusOr<std::vector<SymbolicEntry>> states =
      ParseSymbolicList(kSampleFormat, "REC->state");
  ASSERT_OK(states);
  EXPECT_THAT(*states,
              ElementsAre(SymbolicEntry{"TCP_ESTABLISHED", "TCP_ESTABLISHED"},
                          SymbolicEntry{"TCP_SYN_SENT", "TCP_SYN_SENT"},
                          SymbolicEntry{"TCP_CLOSE", "TCP_CLOSE"}));
}

TEST(ResetReasonParseTest, FindsDeclaredFields) {
  EXPECT_TRUE(FormatHasField(kSampleFormat, "reason"));
  EXPECT_TRUE(FormatHasField(kSampleFormat, "saddr"));
  EXPECT_TRUE(FormatHasField(kSampleFormat, "skbaddr"));
  EXPECT_FALSE(FormatHasField(kSampleFormat, "sport"));
  EXPECT_FALSE(FormatHasField(kSampleFormat, "addr"));
  EXPECT_TRUE(FormatHasField(kOldFormat, "sport"));
  EXPECT_FALSE(FormatHasField(kOldFormat, "reason"));
}

TEST(ResetReasonParseTest, RejectsFormatsWithoutANumericReasonList) {
  EXPECT_EQ(ParseResetReasonNames(kOldFormat).status().code(),
            absl::StatusCode::kInvalidArgument);
  // Keys that are macros, not numbers.
  EXPECT_THAT(ParseResetReasonNames(
                  "__print_symbolic(REC->reason, { TCP_CLOSE, \"TCP_CLOSE\" })")
                  .status()
                  .message(),
              HasSubstr("TCP_CLOSE"));
  EXPECT_EQ(ParseSymbolicList("__print_symbolic(REC->reason, { 0, \"A\" ",
                              "REC->reason")
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseSymbolicList("__print_symbolic(REC->reason, { 0 \"A\" })",
                              "REC->reason")
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ResetReasonParseTest, ParsesEventLines) {
  const std::vector<std::string> names = {"NOT_SPECIFIED", "NO_SOCKET",
                                          "TCP_ABORT_ON_CLOSE"};
  struct Case {
    std::string line;
    ResetEvent want;
  };
  const Case cases[] = {
      {"         python3-3193    [001] .....   845.933403: tcp_send_reset: "
       "skbaddr=0000000000000000 skaddr=0000000037e367a6 "
       "src=127.0.0.1:54759 dest=127.0.0.1:47026 state=TCP_CLOSE "
       "reason=TCP_ABORT_ON_CLOSE",
       {54759, 47026, "TCP_CLOSE", "TCP_ABORT_ON_CLOSE"}},
      {"  <idle>-0 [000] ..s2. 1.0: tcp_send_reset: skbaddr=00000000deadbeef "
       "skaddr=0000000000000000 src=[::1]:80 dest=[::1]:65535 state=UNKNOWN "
       "reason=NO_SOCKET",
       {80, 65535, "UNKNOWN", "NO_SOCKET"}},
      {"x-1 [000] ..... 2.0: tcp_send_reset: skbaddr=0 skaddr=1 "
       "src=[::ffff:127.0.0.1]:5000 dest=[::ffff:127.0.0.1]:40000 "
       "state=TCP_ESTABLISHED reason=0x2",
       {5000, 40000, "TCP_ESTABLISHED", "TCP_ABORT_ON_CLOSE"}},
      {"x-1 [000] ..... 2.0: tcp_send_reset: sport=1 dport=2 "
       "saddr=127.0.0.1 daddr=127.0.0.1 state=TCP_CLOSE reason=0x63",
       {1, 2, "TCP_CLOSE", "0x63"}},
  };
  for (const Case& c : cases) {
    absl::StatusOr<ResetEvent> event = ParseResetEventLine(c.line, names);
    ASSERT_OK(event);
    EXPECT_EQ(*event, c.want) << event->ToString() << " from " << c.line;
  }
  EXPECT_EQ(ParseResetEventLine("# tracer: nop", names).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(ParseResetEventLine("x-1 [000] 2.0: tcp_send_reset: "
                                "src=127.0.0.1 dest=127.0.0.1:1 state=A "
                                "reason=B",
                                names)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

// ---- The live witness (root, tracefs, kernel >= 6.10) ----

// Waits until `fd` has `bytes` unread bytes queued, or the deadline passes.
absl::Status WaitForReceiveQueue(int fd, int bytes, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    absl::StatusOr<int> queued = BytesInReceiveQueue(fd);
    if (!queued.ok()) return queued.status();
    if (*queued >= bytes) return absl::OkStatus();
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat(*queued, " of ", bytes, " bytes arrived"));
    }
    struct pollfd pfd = {fd, POLLIN, 0};
    ::poll(&pfd, 1, 10);  // wakes as soon as more data arrives
  }
}

std::string Describe(const std::vector<ResetEvent>& events) {
  return absl::StrJoin(events, "; ",
                       [](std::string* out, const ResetEvent& event) {
                         out->append(event.ToString());
                       });
}

class ResetReasonWatchTest : public ::testing::TestWithParam<Family> {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (tracefs, netns)";
    absl::StatusOr<PrivateNetns> netns = PrivateNetns::Enter();
    if (!netns.ok()) GTEST_SKIP() << "no private netns: " << netns.status();
    netns_.emplace(*std::move(netns));
    if (GetParam() != Family::kV4 && !netns_->has_ipv6()) {
      GTEST_SKIP() << "no IPv6 on lo";
    }
    absl::StatusOr<Listener> listener = Listen(GetParam());
    ASSERT_OK(listener);
    listener_ = *std::move(listener);
    absl::StatusOr<std::unique_ptr<ResetReasonWatch>> watch =
        ResetReasonWatch::Start(listener_.port);
    if (absl::IsUnavailable(watch.status())) {
      GTEST_SKIP() << watch.status().message();
    }
    ASSERT_OK(watch);
    watch_ = *std::move(watch);
  }

  void TearDown() override {
    watch_.reset();
    netns_.reset();
  }

  // The events so far, failing the test if the witness cannot say.
  std::vector<ResetEvent> Collect() {
    absl::StatusOr<std::vector<ResetEvent>> events = watch_->Collect();
    EXPECT_OK(events);
    return events.ok() ? *std::move(events) : std::vector<ResetEvent>{};
  }

  std::optional<PrivateNetns> netns_;
  Listener listener_;
  std::unique_ptr<ResetReasonWatch> watch_;
};

TEST_P(ResetReasonWatchTest, CloseWithUnreadDataIsAbortOnClose) {
  absl::StatusOr<ConnectedPair> pair = Connect(GetParam(), listener_);
  ASSERT_OK(pair);
  ASSERT_EQ(::send(pair->peer.get(), "0123456789", 10, MSG_NOSIGNAL), 10);
  ASSERT_OK(WaitForReceiveQueue(pair->closer.get(), 10, absl::Seconds(5)));
  EXPECT_THAT(Collect(), SizeIs(0));

  pair->closer.reset();  // 10 bytes never read: RST within close()
  std::vector<ResetEvent> events = Collect();
  ASSERT_THAT(events, SizeIs(1)) << Describe(events);
  EXPECT_EQ(events[0].reason, "TCP_ABORT_ON_CLOSE");
  EXPECT_EQ(events[0].sport, pair->closer_port);
  EXPECT_EQ(events[0].dport, pair->peer_port);
  RecordProperty("event", events[0].ToString());
  std::printf("[ reason ] unread data, %s: %s\n",
              FamilyName(GetParam()).c_str(), events[0].ToString().c_str());

  // The reset peer and the listener go quietly.
  pair->peer.reset();
  listener_.fd.reset();
  events = Collect();
  EXPECT_THAT(events, SizeIs(1)) << Describe(events);
}

TEST_P(ResetReasonWatchTest, ZeroLingerCloseSendsOneReset) {
  absl::StatusOr<ConnectedPair> pair = Connect(GetParam(), listener_);
  ASSERT_OK(pair);
  struct linger abort_on_close = {.l_onoff = 1, .l_linger = 0};
  ASSERT_EQ(::setsockopt(pair->closer.get(), SOL_SOCKET, SO_LINGER,
                         &abort_on_close, sizeof(abort_on_close)),
            0);

  pair->closer.reset();  // nothing unread
  std::vector<ResetEvent> events = Collect();
  ASSERT_THAT(events, SizeIs(1)) << Describe(events);
  EXPECT_EQ(events[0].sport, pair->closer_port);
  EXPECT_EQ(events[0].dport, pair->peer_port);
  absl::StatusOr<std::vector<std::string>> names = ResetReasonNames();
  ASSERT_OK(names);
  EXPECT_NE(std::find(names->begin(), names->end(), events[0].reason),
            names->end())
      << events[0].reason << " is not among " << absl::StrJoin(*names, ",");
  RecordProperty("event", events[0].ToString());
  std::printf("[ reason ] SO_LINGER{1,0}, %s: %s\n",
              FamilyName(GetParam()).c_str(), events[0].ToString().c_str());

  pair->peer.reset();
  events = Collect();
  EXPECT_THAT(events, SizeIs(1)) << Describe(events);
}

TEST_P(ResetReasonWatchTest, IgnoresResetsOnOtherPorts) {
  absl::StatusOr<Listener> other = Listen(GetParam());
  ASSERT_OK(other);
  absl::StatusOr<ConnectedPair> pair = Connect(GetParam(), *other);
  ASSERT_OK(pair);
  ASSERT_NE(pair->peer_port, listener_.port);
  struct linger abort_on_close = {.l_onoff = 1, .l_linger = 0};
  ASSERT_EQ(::setsockopt(pair->closer.get(), SOL_SOCKET, SO_LINGER,
                         &abort_on_close, sizeof(abort_on_close)),
            0);
  pair->closer.reset();
  std::vector<ResetEvent> events = Collect();
  EXPECT_THAT(events, SizeIs(0)) << Describe(events);
}

TEST_P(ResetReasonWatchTest, TwoWatchesOfOnePortBothSeeTheReset) {
  absl::StatusOr<std::unique_ptr<ResetReasonWatch>> second =
      ResetReasonWatch::Start(listener_.port);
  ASSERT_OK(second);
  EXPECT_NE((*second)->instance_dir(), watch_->instance_dir());
  absl::StatusOr<ConnectedPair> pair = Connect(GetParam(), listener_);
  ASSERT_OK(pair);
  struct linger abort_on_close = {.l_onoff = 1, .l_linger = 0};
  ASSERT_EQ(::setsockopt(pair->closer.get(), SOL_SOCKET, SO_LINGER,
                         &abort_on_close, sizeof(abort_on_close)),
            0);
  pair->closer.reset();
  absl::StatusOr<std::vector<ResetEvent>> theirs = (*second)->Collect();
  ASSERT_OK(theirs);
  EXPECT_EQ(*theirs, Collect());
  EXPECT_THAT(*theirs, SizeIs(1));
}

TEST_P(ResetReasonWatchTest, InstanceIsRemovedWithTheWatch) {
  const std::string dir = watch_->instance_dir();
  EXPECT_THAT(dir,
              HasSubstr(absl::StrCat("/instances/tcpsem-", ::getpid(), "-")));
  struct stat st = {};
  ASSERT_EQ(::stat(dir.c_str(), &st), 0) << dir;
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  watch_.reset();
  EXPECT_EQ(::stat(dir.c_str(), &st), -1) << dir << " survived the watch";
  EXPECT_EQ(errno, ENOENT);
}

INSTANTIATE_TEST_SUITE_P(ResetReasonFamilies, ResetReasonWatchTest,
                         ::testing::Values(Family::kV4, Family::kV6,
                                           Family::kV4Mapped),
                         [](const ::testing::TestParamInfo<Family>& info) {
                           return FamilyName(info.param);
                         });

// Every test pays WatchResets() (attaching to the run's trace session, or
// to this process's own, opened once), Collect() and the watch's
// destructor, so they must stay cheap: measured, medians reported.
// (ResetReasonWatch::Start(), an instance of a watch's own, is what only the
// tests above use; creating and removing a tracefs instance costs tens of
// milliseconds, too much to repeat here.)
TEST(ResetReasonCostTest, WatchCollectAndTeardownMedians) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (tracefs)";
  constexpr int kRounds = 15;
  std::vector<absl::Duration> start, collect, teardown;
  for (int i = 0; i < kRounds; ++i) {
    absl::Time t0 = absl::Now();
    absl::StatusOr<std::unique_ptr<ResetReasonWatch>> watch =
        WatchResets(static_cast<uint16_t>(1 + i));
    absl::Time t1 = absl::Now();
    if (absl::IsUnavailable(watch.status())) {
      GTEST_SKIP() << watch.status().message();
    }
    ASSERT_OK(watch);
    absl::StatusOr<std::vector<ResetEvent>> events = (*watch)->Collect();
    absl::Time t2 = absl::Now();
    ASSERT_OK(events);
    watch->reset();
    absl::Time t3 = absl::Now();
    start.push_back(t1 - t0);
    collect.push_back(t2 - t1);
    teardown.push_back(t3 - t2);
  }
  auto median = [](std::vector<absl::Duration> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  const double start_ms = absl::ToDoubleMilliseconds(median(start));
  const double collect_ms = absl::ToDoubleMilliseconds(median(collect));
  const double teardown_ms = absl::ToDoubleMilliseconds(median(teardown));
  RecordProperty("start_median_ms", absl::StrCat(start_ms));
  RecordProperty("collect_median_ms", absl::StrCat(collect_ms));
  RecordProperty("teardown_median_ms", absl::StrCat(teardown_ms));
  std::printf(
      "[  cost  ] median of %d: WatchResets %.2f ms, Collect %.2f ms, "
      "~ResetReasonWatch %.2f ms\n",
      kRounds, start_ms, collect_ms, teardown_ms);
  EXPECT_LT(median(start), absl::Seconds(1));
}

}  // namespace
}  // namespace tcpsem
