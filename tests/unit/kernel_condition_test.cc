// Every rule that depends on the kernel names the upstream change behind it
// and the kernels it was verified on (issue 13), and the condition compares
// upstream versions the way tcpsem_rules prints them.
#include "fixtures/rules/kernel_condition.h"

#include <regex>
#include <string>

#include "fixtures/rules/rule_table.h"
#include "fixtures/rules/scenario_rules.h"
#include "gtest/gtest.h"

namespace tcpsem {
namespace {

// A commit is named by at least 12 hex digits; a change that could not be
// traced says so.
bool NamesItsChange(const std::string& change) {
  static const std::regex commit(R"re(\b[0-9a-f]{12,40}\b)re");
  return std::regex_search(change, commit) ||
         change.find("commit not identified") != std::string::npos;
}

void ExpectExplained(const std::string& id, const KernelCondition& kernel,
                     const std::string& text) {
  // A rule whose words name a kernel version ("6.12.117", not an RFC
  // section such as "3.10.7.4") must carry the condition too.
  static const std::regex version(
      R"re((^|[^.0-9])[4-7]\.[0-9]{1,2}\.[0-9]{1,3}(?![.0-9]))re");
  if (!kernel.Conditioned()) {
    EXPECT_FALSE(std::regex_search(text, version))
        << id << " names a kernel version but has no kernel condition";
    return;
  }
  EXPECT_TRUE(NamesItsChange(kernel.change))
      << id << ": no upstream commit (or 'commit not identified'): '"
      << kernel.change << "'";
  EXPECT_FALSE(kernel.verified_on.empty()) << id << ": verified on nothing";
}

TEST(KernelConditionTest, EveryKernelConditionedRuleNamesItsChange) {
  int conditioned = 0;
  for (const Rule& rule : RuleTable()) {
    ExpectExplained(rule.id, rule.kernel, rule.outcome);
    conditioned += rule.kernel.Conditioned();
  }
  for (const ScenarioRule& rule : ScenarioRules()) {
    ExpectExplained(rule.id, rule.kernel,
                    rule.condition + " " + rule.outcome + " " + rule.source);
    conditioned += rule.kernel.Conditioned();
  }
  EXPECT_GE(conditioned, 7) << "the kernel-conditioned rules went missing";
}

TEST(KernelConditionTest, HoldsOnAHalfOpenRange) {
  const KernelCondition series{KernelVersion{6, 1, 170},
                               KernelVersion{6, 1, 193}, "c", "v"};
  EXPECT_FALSE(series.Holds({6, 1, 0}));  // what uname -r says on Debian
  EXPECT_TRUE(series.Holds({6, 1, 170}));
  EXPECT_TRUE(series.Holds({6, 1, 192}));
  EXPECT_FALSE(series.Holds({6, 1, 193}));
  EXPECT_FALSE(series.Holds({6, 12, 0}));
  EXPECT_EQ(series.Range(), ">= 6.1.170, < 6.1.193");
  EXPECT_EQ(KernelCondition{}.Range(), "all kernels");
  EXPECT_TRUE(KernelCondition{}.Holds({2, 6, 32}));
  EXPECT_EQ((KernelCondition{std::nullopt, KernelVersion{6, 12, 118}, "", ""}
                 .Range()),
            "< 6.12.118");
}

TEST(KernelConditionTest, FindScenarioRuleFindsKernelConditions) {
  const ScenarioRule* rule = FindScenarioRule("rfc5961.ack-unsent-challenge");
  ASSERT_NE(rule, nullptr);
  EXPECT_TRUE(rule->kernel.Holds({6, 18, 44}));
  EXPECT_FALSE(rule->kernel.Holds({6, 12, 117}));
  EXPECT_EQ(FindScenarioRule("no.such-rule"), nullptr);
}

}  // namespace
}  // namespace tcpsem
