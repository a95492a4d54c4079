// Sysctl profiles: parsing as systemd-sysctl reads sysctl.d files (no
// privileges needed), and classification and application inside private
// network namespaces (root; skipped otherwise).
#include "fixtures/config/sysctl_profile.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "fixtures/base/unique_fd.h"
#include "fixtures/isolation/netns.h"
#include "fixtures/isolation/rootless.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/harness/status_matchers.h"

namespace tcpsem {
namespace {

// Tests that read or write the host's own namespace: a rootless run (a user
// namespace of its own, fixtures/isolation/rootless.h) may not enter it.
void SkipWithoutHostNetns() {
  if (RunningRootless()) {
    GTEST_SKIP() << "needs the host's network namespace, which a rootless "
                    "run may not enter (run as root)";
  }
}

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;

// The profile that needs allow_global: never applied by default.
constexpr char kGlobalProfile[] = "max-orphans-zero";

absl::StatusOr<Profile> Parse(absl::string_view text,
                              absl::string_view path = "profiles/test.conf") {
  Profile profile;
  profile.name = "test";
  if (absl::Status status = ParseSysctlText(path, text, profile);
      !status.ok()) {
    return status;
  }
  return profile;
}

std::string WriteTempFile(absl::string_view name, absl::string_view text) {
  // In the working directory, not /tmp: root writes nothing where other
  // users can plant links.
  std::string path =
      absl::StrCat("sysctl_profile_test-", ::getpid(), "-", name);
  std::ofstream(path) << text;
  return path;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool FileExists(const std::string& path) {
  struct stat st = {};
  return ::stat(path.c_str(), &st) == 0;
}

// ---- Parsing. ----

TEST(SysctlParseTest, DottedAndSlashedKeysNameTheSameSetting) {
  absl::StatusOr<Profile> profile =
      Parse("net.ipv4.tcp_ecn = 1\nnet/ipv4/tcp_ecn=2\n");
  ASSERT_OK(profile);
  ASSERT_EQ(profile->settings.size(), 1u);
  const SysctlSetting& setting = profile->settings.at("net.ipv4.tcp_ecn");
  EXPECT_EQ(setting.value, "2");
  EXPECT_EQ(setting.origin.ToString(), "profiles/test.conf:2");
  ASSERT_EQ(setting.overridden.size(), 1u);
  EXPECT_EQ(setting.overridden[0].ToString(), "profiles/test.conf:1");
}

TEST(SysctlParseTest, NormalisesKeysAsSystemdDoes) {
  EXPECT_EQ(SysctlKeyToPath("net.ipv4.tcp_rmem"), "net/ipv4/tcp_rmem");
  EXPECT_EQ(SysctlKeyToPath("net/ipv4/tcp_rmem"), "net/ipv4/tcp_rmem");
  // First separator '/': a path, dots stay dots (a VLAN interface name).
  EXPECT_EQ(SysctlKeyToPath("net/ipv4/conf/eth0.100/rp_filter"),
            "net/ipv4/conf/eth0.100/rp_filter");
  // First separator '.': dots and slashes swap.
  EXPECT_EQ(SysctlKeyToPath("net.ipv4.conf.eth0/100.rp_filter"),
            "net/ipv4/conf/eth0.100/rp_filter");
  EXPECT_EQ(SysctlPathToKey("net/ipv4/conf/eth0.100/rp_filter"),
            "net.ipv4.conf.eth0/100.rp_filter");
}

TEST(SysctlParseTest, SkipsBothCommentKindsAndBlankLines) {
  absl::StatusOr<Profile> profile = Parse(
      "# hash comment\n"
      "; semicolon comment\n"
      "   # indented comment\n"
      "\n"
      " \t \n"
      "net.ipv4.tcp_sack = 0\n");
  ASSERT_OK(profile);
  ASSERT_EQ(profile->settings.size(), 1u);
  EXPECT_EQ(profile->settings.at("net.ipv4.tcp_sack").origin.line, 6);
}

TEST(SysctlParseTest, HasNoInlineComments) {
  // systemd-sysctl writes "1 # why" to the file; so do we (and Apply then
  // reports that the kernel read back "1").
  absl::StatusOr<Profile> profile = Parse("net.ipv4.tcp_ecn = 1 # why\n");
  ASSERT_OK(profile);
  EXPECT_EQ(profile->settings.at("net.ipv4.tcp_ecn").value, "1 # why");
}

TEST(SysctlParseTest, DashPrefixMarksKeyOptional) {
  absl::StatusOr<Profile> profile = Parse(
      "-net.ipv4.tcp_nonsense = 1\n- net.ipv4.tcp_sack=0\n"
      "net.ipv4.tcp_ecn = 1\n");
  ASSERT_OK(profile);
  EXPECT_TRUE(profile->settings.at("net.ipv4.tcp_nonsense").ignore_if_missing);
  EXPECT_TRUE(profile->settings.at("net.ipv4.tcp_sack").ignore_if_missing);
  EXPECT_EQ(profile->settings.at("net.ipv4.tcp_sack").value, "0");
  EXPECT_FALSE(profile->settings.at("net.ipv4.tcp_ecn").ignore_if_missing);
}

TEST(SysctlParseTest, KeepsWhitespaceInsideValues) {
  absl::StatusOr<Profile> profile = Parse(
      "net.ipv4.tcp_rmem =   4096    8192\t16384  \n"
      "net.ipv4.tcp_wmem=4096 8192 16384\n");
  ASSERT_OK(profile);
  EXPECT_EQ(profile->settings.at("net.ipv4.tcp_rmem").value,
            "4096    8192\t16384");
  EXPECT_EQ(profile->settings.at("net.ipv4.tcp_wmem").value, "4096 8192 16384");
  EXPECT_EQ(NormalizeSysctlValue(" 4096    8192\t16384\n"), "4096 8192 16384");
}

TEST(SysctlParseTest, ComparesReadBackAsTheKernelParses) {
  EXPECT_TRUE(SysctlValuesEqual("4096 8192  16384", "4096\t8192\t16384\n"));
  EXPECT_TRUE(SysctlValuesEqual("0x10", "16"));  // kernel parses base 0
  EXPECT_TRUE(SysctlValuesEqual("bbr", "bbr"));
  EXPECT_FALSE(SysctlValuesEqual("8192", "8192\t1\t1"));  // partial vector
  EXPECT_FALSE(SysctlValuesEqual("100 200 300 400", "100\t200\t300"));
  EXPECT_FALSE(SysctlValuesEqual("1 # why", "1"));
  EXPECT_FALSE(SysctlValuesEqual("reno", "bbr"));
}

TEST(SysctlParseTest, LaterFileWins) {
  std::string first = WriteTempFile(
      "first.conf", "net.ipv4.tcp_ecn = 1\nnet.ipv4.tcp_sack = 0\n");
  std::string second =
      WriteTempFile("second.conf", "# override\nnet/ipv4/tcp_ecn = 2\n");
  absl::StatusOr<Profile> profile = LoadProfile("two", {first, second});
  ASSERT_OK(profile);
  EXPECT_THAT(profile->files, ElementsAre(first, second));
  const SysctlSetting& ecn = profile->settings.at("net.ipv4.tcp_ecn");
  EXPECT_EQ(ecn.value, "2");
  EXPECT_EQ(ecn.origin.path, second);
  EXPECT_EQ(ecn.origin.line, 2);
  ASSERT_EQ(ecn.overridden.size(), 1u);
  EXPECT_EQ(ecn.overridden[0].path, first);
  EXPECT_EQ(profile->settings.at("net.ipv4.tcp_sack").origin.path, first);
  EXPECT_THAT(profile->Describe(), HasSubstr("net.ipv4.tcp_ecn = 2"));
  ::unlink(first.c_str());
  ::unlink(second.c_str());
}

TEST(SysctlParseTest, MalformedLinesNameFileAndLine) {
  absl::StatusOr<Profile> profile = Parse(
      "net.ipv4.tcp_ecn = 1\n"
      "garbage line\n"
      "= 5\n"
      "net.ipv4.conf.*.rp_filter = 2\n"
      "net..ipv4.tcp_ecn = 1\n",
      "profiles/bad.conf");
  ASSERT_FALSE(profile.ok());
  EXPECT_EQ(profile.status().code(), absl::StatusCode::kInvalidArgument);
  std::string message(profile.status().message());
  EXPECT_THAT(message, StartsWith("profiles/bad.conf:2: not an assignment"));
  EXPECT_THAT(message, HasSubstr("profiles/bad.conf:3: empty key"));
  EXPECT_THAT(message, HasSubstr("profiles/bad.conf:4: glob keys are not"));
  EXPECT_THAT(message, HasSubstr("profiles/bad.conf:5: malformed key"));
  EXPECT_THAT(message, Not(HasSubstr("\n")));
}

TEST(SysctlParseTest, MissingFileIsAnError) {
  absl::StatusOr<Profile> profile =
      LoadProfile("missing", {"/nonexistent-tcpsem/profiles/missing.conf"});
  ASSERT_FALSE(profile.ok());
  EXPECT_EQ(profile.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(profile.status().message()),
              StartsWith("/nonexistent-tcpsem/profiles/missing.conf: cannot "
                         "open: ENOENT"));
}

TEST(SysctlParseTest, ShippedProfilesParseAndSayWhy) {
  std::vector<std::string> names = ShippedProfileNames();
  for (const char* expected :
       {"abort-on-overflow", "default", "ecn", "max-orphans-zero", "no-options",
        "rfc1337", "short-timers", "small-buffers"}) {
    EXPECT_THAT(names, testing::Contains(expected));
  }
  for (const std::string& name : names) {
    SCOPED_TRACE(name);
    absl::StatusOr<Profile> profile = LoadShippedProfile(name);
    ASSERT_OK(profile);
    std::string text = ReadFile(profile->files.at(0));
    EXPECT_THAT(text, StartsWith("# ")) << "first line must say why";
    EXPECT_THAT(
        profile->Describe(),
        HasSubstr(absl::StrCat("fixtures/config/profiles/", name, ".conf")));
  }
  absl::StatusOr<Profile> defaults = LoadShippedProfile("default");
  ASSERT_OK(defaults);
  EXPECT_THAT(defaults->settings, IsEmpty());
}

// ---- In namespaces (root). ----

class SysctlNetnsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) {
      GTEST_SKIP() << "needs root: unshare(CLONE_NEWNET) and /proc/sys writes";
    }
  }

  // A private namespace for this thread, or skip.
  std::optional<PrivateNetns> Enter() {
    absl::StatusOr<PrivateNetns> netns = PrivateNetns::Enter();
    if (!netns.ok()) {
      ADD_FAILURE() << netns.status();
      return std::nullopt;
    }
    return *std::move(netns);
  }
};

using SysctlClassifyTest = SysctlNetnsTest;

TEST_F(SysctlClassifyTest, TellsPerNetnsFromGlobalKeys) {
  absl::StatusOr<std::map<std::string, SysctlClass>> classes = ClassifySysctls(
      {"net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_rmem", "net/ipv4/tcp_wmem",
       "net.ipv4.ip_local_port_range", "net.core.somaxconn", "net.ipv4.tcp_mem",
       "net.ipv4.tcp_max_orphans", "net.core.rmem_max",
       "net.ipv4.tcp_allowed_congestion_control",
       "net.ipv4.tcp_available_congestion_control", "net.ipv4.tcp_nonsense",
       "kernel.ostype"});
  ASSERT_OK(classes);
  auto scope = [&](const std::string& key) {
    return std::string(SysctlScopeName(classes->at(key).scope));
  };
  EXPECT_EQ(scope("net.ipv4.tcp_fin_timeout"), "per-netns");
  EXPECT_EQ(scope("net.ipv4.tcp_rmem"), "per-netns");
  EXPECT_EQ(scope("net.ipv4.tcp_wmem"), "per-netns");
  EXPECT_EQ(scope("net.ipv4.ip_local_port_range"), "per-netns");
  EXPECT_EQ(scope("net.core.somaxconn"), "per-netns");
  EXPECT_EQ(scope("net.ipv4.tcp_mem"), "GLOBAL");
  EXPECT_EQ(scope("net.ipv4.tcp_max_orphans"), "GLOBAL");
  EXPECT_EQ(scope("net.core.rmem_max"), "GLOBAL");
  EXPECT_EQ(scope("net.ipv4.tcp_allowed_congestion_control"), "GLOBAL");
  EXPECT_EQ(scope("net.ipv4.tcp_available_congestion_control"), "read-only");
  EXPECT_EQ(scope("net.ipv4.tcp_nonsense"), "missing");
  EXPECT_EQ(scope("kernel.ostype"), "read-only");
}

TEST_F(SysctlClassifyTest, KnownGlobalListMatchesThisKernel) {
  std::vector<std::string> keys;
  for (const KnownGlobalSysctl& known : KnownGlobalSysctls()) {
    keys.emplace_back(known.key);
  }
  absl::StatusOr<std::map<std::string, SysctlClass>> classes =
      ClassifySysctls(keys);
  ASSERT_OK(classes);
  for (const std::string& key : keys) {
    const SysctlClass& cls = classes->at(key);
    // Missing: not built into this kernel (bpf_jit_* without a JIT, ...).
    EXPECT_TRUE(cls.scope == SysctlScope::kGlobal ||
                cls.scope == SysctlScope::kMissing ||
                cls.scope == SysctlScope::kReadOnly)
        << key << ": " << SysctlScopeName(cls.scope) << " (" << cls.reason
        << ")";
    EXPECT_THAT(cls.reason, Not(HasSubstr("recheck"))) << key;
  }
}

using SysctlApplyTest = SysctlNetnsTest;

TEST_F(SysctlApplyTest, EveryShippedProfileAppliesAndReadsBack) {
  for (const std::string& name : ShippedProfileNames()) {
    if (name == kGlobalProfile) continue;
    SCOPED_TRACE(name);
    absl::StatusOr<Profile> profile = LoadShippedProfile(name);
    ASSERT_OK(profile);
    std::optional<PrivateNetns> netns = Enter();
    ASSERT_TRUE(netns.has_value());
    absl::Status applied = ApplyProfile(*netns, *profile);
    ASSERT_OK(applied) << "\n" << profile->Describe();
    EXPECT_TRUE(profile->applied);
    EXPECT_THAT(profile->applied_to_host, IsEmpty());
    ASSERT_EQ(profile->read_back.size(), profile->settings.size())
        << profile->Describe();
    for (const auto& [key, setting] : profile->settings) {
      absl::StatusOr<std::string> now = ReadSysctl(key);
      ASSERT_OK(now);
      EXPECT_EQ(*now, NormalizeSysctlValue(setting.value)) << key;
      EXPECT_EQ(profile->read_back.at(key), *now) << key;
    }
    EXPECT_THAT(profile->Describe(), HasSubstr("(applied)"));
  }
}

TEST_F(SysctlApplyTest, LeavesTheHostsValueAlone) {
  SkipWithoutHostNetns();
  if (IsSkipped()) return;
  absl::StatusOr<std::string> before = ReadSysctl("net.ipv4.tcp_fin_timeout");
  ASSERT_OK(before);
  ASSERT_NE(*before, "1") << "pick another key: the host already has 1";
  {
    absl::StatusOr<Profile> profile = LoadShippedProfile("short-timers");
    ASSERT_OK(profile);
    std::optional<PrivateNetns> netns = Enter();
    ASSERT_TRUE(netns.has_value());
    ASSERT_OK(ApplyProfile(*netns, *profile));
    EXPECT_EQ(*ReadSysctl("net.ipv4.tcp_fin_timeout"), "1");
    absl::StatusOr<std::string> host =
        ReadHostSysctl("net.ipv4.tcp_fin_timeout");
    ASSERT_OK(host);
    EXPECT_EQ(*host, *before);
  }
  EXPECT_EQ(*ReadSysctl("net.ipv4.tcp_fin_timeout"), *before);
}

struct BadCase {
  const char* name;
  const char* text;
  const char* error;  // the message starts with this
};

class SysctlBadProfileTest : public SysctlNetnsTest,
                             public ::testing::WithParamInterface<BadCase> {};

TEST_P(SysctlBadProfileTest, NamesFileAndLineAndAppliesNothing) {
  absl::StatusOr<Profile> profile = Parse(GetParam().text, "profiles/bad.conf");
  ASSERT_OK(profile);
  std::optional<PrivateNetns> netns = Enter();
  ASSERT_TRUE(netns.has_value());
  absl::StatusOr<std::string> ecn_before = ReadSysctl("net.ipv4.tcp_ecn");
  ASSERT_OK(ecn_before);
  ASSERT_NE(*ecn_before, "1");

  absl::Status applied = ApplyProfile(*netns, *profile);
  ASSERT_FALSE(applied.ok());
  EXPECT_THAT(std::string(applied.message()), StartsWith(GetParam().error));
  EXPECT_THAT(std::string(applied.message()), Not(HasSubstr("\n")));
  EXPECT_FALSE(profile->applied);
  // Line 1 of every case sets tcp_ecn = 1: it must not have been written.
  EXPECT_EQ(*ReadSysctl("net.ipv4.tcp_ecn"), *ecn_before);
  // ValidateProfile finds the same without a namespace.
  EXPECT_THAT(std::string(ValidateProfile(*profile).message()),
              StartsWith(GetParam().error));
}

INSTANTIATE_TEST_SUITE_P(
    Sysctl, SysctlBadProfileTest,
    ::testing::Values(
        BadCase{"UnknownKey",
                "net.ipv4.tcp_ecn = 1\nnet.ipv4.tcp_nonsense = 1\n",
                "profiles/bad.conf:2: unknown key net.ipv4.tcp_nonsense"},
        BadCase{"ValueRefused",
                "net.ipv4.tcp_ecn = 1\nnet.ipv4.tcp_fin_timeout = abc\n",
                "profiles/bad.conf:2: kernel refused net.ipv4.tcp_fin_timeout "
                "= abc: EINVAL"},
        BadCase{"VectorPartlyRefused",
                "net.ipv4.tcp_ecn = 1\nnet.ipv4.tcp_rmem = 8192 0 5\n",
                "profiles/bad.conf:2: kernel refused net.ipv4.tcp_rmem"},
        BadCase{"ValueAltered",
                "net.ipv4.tcp_ecn = 1\nnet.ipv4.tcp_rmem = 100 200 300 400\n",
                "profiles/bad.conf:2: kernel altered net.ipv4.tcp_rmem: wrote "
                "'100 200 300 400', reads back '100 200 300'"},
        BadCase{"InlineComment", "net.ipv4.tcp_ecn = 1 # on\n",
                "profiles/bad.conf:1: kernel altered net.ipv4.tcp_ecn"},
        BadCase{"GlobalWithoutOptIn",
                "net.ipv4.tcp_ecn = 1\nnet.ipv4.tcp_max_orphans = 0\n",
                "profiles/bad.conf:2: net.ipv4.tcp_max_orphans is global"},
        BadCase{"GlobalWithDash",
                "net.ipv4.tcp_ecn = 1\n-net.ipv4.tcp_mem = 1 2 3\n",
                "profiles/bad.conf:2: net.ipv4.tcp_mem is global"},
        BadCase{"ReadOnlyKey",
                "net.ipv4.tcp_ecn = 1\n"
                "net.ipv4.tcp_available_congestion_control = reno\n",
                "profiles/bad.conf:2: read-only key"}),
    [](const ::testing::TestParamInfo<BadCase>& info) {
      return std::string(info.param.name);
    });

TEST_F(SysctlApplyTest, DashPrefixSkipsMissingKeys) {
  absl::StatusOr<Profile> profile =
      Parse("-net.ipv4.tcp_nonsense = 1\nnet.ipv4.tcp_sack = 0\n");
  ASSERT_OK(profile);
  std::optional<PrivateNetns> netns = Enter();
  ASSERT_TRUE(netns.has_value());
  ASSERT_OK(ApplyProfile(*netns, *profile));
  EXPECT_TRUE(profile->skipped.contains("net.ipv4.tcp_nonsense"));
  EXPECT_EQ(profile->read_back.at("net.ipv4.tcp_sack"), "0");
  EXPECT_THAT(profile->Describe(),
              HasSubstr("-net.ipv4.tcp_nonsense = 1  [profiles/test.conf:1] "
                        "-> skipped"));
}

TEST_F(SysctlApplyTest, LooksKeysUpInTheTargetNamespace) {
  absl::StatusOr<Profile> profile = Parse(
      "net.ipv4.conf.tsp0.forwarding = 1\nnet/ipv4/conf/tsp1/forwarding = 1\n");
  ASSERT_OK(profile);
  // A fresh namespace has no tsp0.
  EXPECT_THAT(std::string(ValidateProfile(*profile).message()),
              StartsWith("profiles/test.conf:1: unknown key "
                         "net.ipv4.conf.tsp0.forwarding"));
  std::optional<PrivateNetns> netns = Enter();
  ASSERT_TRUE(netns.has_value());
  // system() forks from this thread, so ip runs in the private namespace.
  if (std::system("ip link add tsp0 type veth peer name tsp1 2>/dev/null") !=
      0) {
    GTEST_SKIP() << "cannot make a veth pair with ip(8) here";
  }
  absl::Status applied = ApplyProfile(*netns, *profile);
  ASSERT_OK(applied);
  EXPECT_EQ(*ReadSysctl("net.ipv4.conf.tsp0.forwarding"), "1");
  EXPECT_EQ(*ReadSysctl("net.ipv4.conf.tsp1.forwarding"), "1");
}

TEST_F(SysctlApplyTest, RollsBackWhenAWriteFailsMidway) {
  // ip_local_port_range must start at or above ip_unprivileged_port_start:
  // fine in the scratch netns validation uses (1024), refused here (2000).
  absl::StatusOr<Profile> profile =
      Parse("net.ipv4.tcp_ecn = 1\nnet.ipv4.ip_local_port_range = 1500 60000\n",
            "profiles/midway.conf");
  ASSERT_OK(profile);
  ASSERT_OK(ValidateProfile(*profile));
  std::optional<PrivateNetns> netns = Enter();
  ASSERT_TRUE(netns.has_value());
  {
    UniqueFd fd(::open("/proc/sys/net/ipv4/ip_unprivileged_port_start",
                       O_WRONLY | O_CLOEXEC));
    ASSERT_TRUE(fd.valid());
    ASSERT_EQ(::write(fd.get(), "2000\n", 5), 5);
  }
  std::string ecn_before = *ReadSysctl("net.ipv4.tcp_ecn");
  std::string range_before = *ReadSysctl("net.ipv4.ip_local_port_range");

  absl::Status applied = ApplyProfile(*netns, *profile);
  ASSERT_FALSE(applied.ok());
  EXPECT_THAT(std::string(applied.message()),
              StartsWith("profiles/midway.conf:2: kernel refused "
                         "net.ipv4.ip_local_port_range = 1500 60000: EINVAL"));
  EXPECT_THAT(std::string(applied.message()),
              HasSubstr("rolled back 2 value(s)"));
  EXPECT_EQ(*ReadSysctl("net.ipv4.tcp_ecn"), ecn_before);
  EXPECT_EQ(*ReadSysctl("net.ipv4.ip_local_port_range"), range_before);
}

TEST_F(SysctlApplyTest, RefusesToRunInTheInitNamespace) {
  SkipWithoutHostNetns();
  if (IsSkipped()) return;
  absl::StatusOr<Profile> profile = LoadShippedProfile("ecn");
  ASSERT_OK(profile);
  UniqueFd host_ns(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(host_ns.valid());
  std::optional<PrivateNetns> netns = Enter();
  ASSERT_TRUE(netns.has_value());
  absl::StatusOr<std::string> host_before = ReadHostSysctl("net.ipv4.tcp_ecn");
  ASSERT_OK(host_before);
  // A thread that went back to the host's namespace holding the token.
  absl::Status applied;
  std::thread thread([&] {
    if (::setns(host_ns.get(), CLONE_NEWNET) != 0) {
      applied = absl::InternalError("setns(host netns) failed");
      return;
    }
    applied = ApplyProfile(*netns, *profile);
  });
  thread.join();
  EXPECT_EQ(applied.code(), absl::StatusCode::kFailedPrecondition) << applied;
  EXPECT_THAT(std::string(applied.message()),
              HasSubstr("host network namespace"));
  EXPECT_EQ(*ReadHostSysctl("net.ipv4.tcp_ecn"), *host_before);
}

TEST_F(SysctlApplyTest, HostProfileCopiesTheHostIntoANamespace) {
  SkipWithoutHostNetns();
  if (IsSkipped()) return;
  std::optional<PrivateNetns> netns = Enter();
  ASSERT_TRUE(netns.has_value());
  // Built from inside the private namespace: still the host's values.
  absl::StatusOr<Profile> host = HostProfile();
  ASSERT_OK(host);
  EXPECT_EQ(host->name, "host");
  ASSERT_TRUE(host->settings.contains("net.ipv4.tcp_rmem"));
  EXPECT_EQ(host->settings.at("net.ipv4.tcp_rmem").value,
            *ReadHostSysctl("net.ipv4.tcp_rmem"));
  EXPECT_TRUE(host->settings.contains("net.ipv4.ip_local_port_range"));
  EXPECT_TRUE(host->settings.contains("net.core.somaxconn"));
  for (const KnownGlobalSysctl& known : KnownGlobalSysctls()) {
    EXPECT_FALSE(host->settings.contains(std::string(known.key))) << known.key;
  }
  EXPECT_FALSE(host->settings.contains("net.ipv4.tcp_fastopen_key"));
  EXPECT_FALSE(host->settings.contains("net.ipv4.tcp_ehash_entries"));
  EXPECT_TRUE(host->skipped.contains("net.ipv4.tcp_max_orphans"));

  absl::Status applied = ApplyProfile(*netns, *host);
  ASSERT_OK(applied) << "\n" << host->Describe();
  EXPECT_EQ(host->read_back.size(), host->settings.size());
}

using SysctlGlobalTest = SysctlNetnsTest;

TEST_F(SysctlGlobalTest, GlobalProfileNeedsTheOptIn) {
  SkipWithoutHostNetns();
  if (IsSkipped()) return;
  absl::StatusOr<Profile> profile = LoadShippedProfile(kGlobalProfile);
  ASSERT_OK(profile);
  absl::Status refused = ValidateProfile(*profile);
  EXPECT_THAT(std::string(refused.message()),
              StartsWith("fixtures/config/profiles/max-orphans-zero.conf:2: "
                         "net.ipv4.tcp_max_orphans is global"));
  EXPECT_THAT(std::string(refused.message()), HasSubstr("allow_global"));
  EXPECT_THAT(
      std::string(ValidateProfile(*profile, {.allow_global = true}).message()),
      HasSubstr("host_guard"));
  GlobalSysctlGuard guard;
  EXPECT_OK(
      ValidateProfile(*profile, {.allow_global = true, .host_guard = &guard}));
}

// Exercises the whole host path (guard, record file, restore) by writing the
// host's current value back: the host does not change.
TEST_F(SysctlGlobalTest, GuardRecordsAndRestoresHostValues) {
  SkipWithoutHostNetns();
  if (IsSkipped()) return;
  absl::StatusOr<std::string> host_value =
      ReadHostSysctl("net.ipv4.tcp_max_orphans");
  ASSERT_OK(host_value);
  absl::StatusOr<Profile> profile = Parse(absl::StrCat(
      "net.ipv4.tcp_ecn = 1\nnet.ipv4.tcp_max_orphans = ", *host_value, "\n"));
  ASSERT_OK(profile);
  std::string record = GlobalSysctlGuard::RecordPath();
  {
    GlobalSysctlGuard guard;
    std::optional<PrivateNetns> netns = Enter();
    ASSERT_TRUE(netns.has_value());
    absl::Status applied = ApplyProfile(
        *netns, *profile, {.allow_global = true, .host_guard = &guard});
    ASSERT_OK(applied);
    EXPECT_THAT(profile->applied_to_host,
                ElementsAre("net.ipv4.tcp_max_orphans"));
    EXPECT_EQ(profile->read_back.at("net.ipv4.tcp_max_orphans"), *host_value);
    EXPECT_EQ(profile->read_back.at("net.ipv4.tcp_ecn"), "1");
    EXPECT_THAT(profile->Describe(), HasSubstr("HOST"));
    ASSERT_TRUE(FileExists(record));
    EXPECT_THAT(ReadFile(record),
                HasSubstr(absl::StrCat(
                    "\nnet.ipv4.tcp_max_orphans = ", *host_value, "\n")));
    EXPECT_EQ(guard.mark(), 1u);
  }
  EXPECT_FALSE(FileExists(record));
  EXPECT_EQ(*ReadHostSysctl("net.ipv4.tcp_max_orphans"), *host_value);
}

// The record is written where only root can write, and only there: a record
// directory another user owns or may write is refused before the host is
// touched (the value written would be the host's own anyway).
TEST_F(SysctlGlobalTest, GuardRefusesARecordDirectoryOthersControl) {
  SkipWithoutHostNetns();
  if (IsSkipped()) return;
  absl::StatusOr<std::string> host_value =
      ReadHostSysctl("net.ipv4.tcp_max_orphans");
  ASSERT_TRUE(host_value.ok()) << host_value.status();
  const std::string dir = absl::StrCat("sysctl-guard-records-", ::getpid());
  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0) << dir;
  ASSERT_EQ(::setenv("TCPSEM_RESTORE_DIR", dir.c_str(), 1), 0);
  struct Case {
    uid_t owner;
    mode_t mode;
    std::string why;
  };
  for (const Case& c : {Case{65534, 0700, "owned by uid 65534, not 0"},
                        Case{0, 0777, "mode 0777 lets others in"},
                        Case{0, 0750, "mode 0750 lets others in"}}) {
    ASSERT_EQ(::chown(dir.c_str(), c.owner, 0), 0);
    ASSERT_EQ(::chmod(dir.c_str(), c.mode), 0);
    GlobalSysctlGuard guard;
    absl::StatusOr<std::string> set =
        guard.Set("net.ipv4.tcp_max_orphans", *host_value);
    EXPECT_EQ(set.status().code(), absl::StatusCode::kPermissionDenied)
        << set.status();
    EXPECT_THAT(std::string(set.status().message()),
                HasSubstr(absl::StrCat(dir, ": ", c.why)));
    EXPECT_EQ(guard.mark(), 0u);
    EXPECT_FALSE(FileExists(GlobalSysctlGuard::RecordPath()));
  }
  // A trusted directory: the record is root's, 0600, and gone afterwards.
  ASSERT_EQ(::chown(dir.c_str(), 0, 0), 0);
  ASSERT_EQ(::chmod(dir.c_str(), 0700), 0);
  {
    GlobalSysctlGuard guard;
    absl::StatusOr<std::string> set =
        guard.Set("net.ipv4.tcp_max_orphans", *host_value);
    ASSERT_TRUE(set.ok()) << set.status();
    struct stat st = {};
    ASSERT_EQ(::lstat(GlobalSysctlGuard::RecordPath().c_str(), &st), 0);
    EXPECT_TRUE(S_ISREG(st.st_mode));
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    EXPECT_EQ(st.st_uid, 0u);
  }
  EXPECT_FALSE(FileExists(GlobalSysctlGuard::RecordPath()));
  ::unsetenv("TCPSEM_RESTORE_DIR");
  EXPECT_EQ(::rmdir(dir.c_str()), 0);
  EXPECT_EQ(*ReadHostSysctl("net.ipv4.tcp_max_orphans"), *host_value);
}

// Keys off the global list are never written to the host, even when the
// probe finds them global: only listed keys can be restored.
TEST_F(SysctlGlobalTest, GuardRefusesKeysOffTheGlobalList) {
  GlobalSysctlGuard guard;
  absl::StatusOr<std::string> set = guard.Set("kernel.core_pattern", "core");
  EXPECT_EQ(set.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(set.status().message()),
              HasSubstr("not on the list of global keys"));
  EXPECT_EQ(guard.mark(), 0u);
}

// Really sets tcp_max_orphans = 0 on the HOST for a moment: every namespace
// on the machine sees it. Opt in with TCPSEM_ALLOW_HOST_SYSCTL=1.
TEST_F(SysctlGlobalTest, MaxOrphansZeroAppliesToTheHostAndIsRestored) {
  const char* allow = std::getenv("TCPSEM_ALLOW_HOST_SYSCTL");
  if (allow == nullptr || std::string(allow) != "1") {
    GTEST_SKIP() << "changes the host's net.ipv4.tcp_max_orphans; set "
                    "TCPSEM_ALLOW_HOST_SYSCTL=1 to run";
  }
  absl::StatusOr<std::string> before =
      ReadHostSysctl("net.ipv4.tcp_max_orphans");
  ASSERT_OK(before);
  absl::StatusOr<Profile> profile = LoadShippedProfile(kGlobalProfile);
  ASSERT_OK(profile);
  {
    GlobalSysctlGuard guard;
    std::optional<PrivateNetns> netns = Enter();
    ASSERT_TRUE(netns.has_value());
    absl::Status applied = ApplyProfile(
        *netns, *profile, {.allow_global = true, .host_guard = &guard});
    ASSERT_OK(applied);
    EXPECT_EQ(profile->read_back.at("net.ipv4.tcp_max_orphans"), "0");
    EXPECT_EQ(*ReadHostSysctl("net.ipv4.tcp_max_orphans"), "0");
  }
  EXPECT_EQ(*ReadHostSysctl("net.ipv4.tcp_max_orphans"), *before);
}

}  // namespace
}  // namespace tcpsem
