// Keeps the scenario rules and the suites that cite them in step: every id a
// suite cites exists, and every rule is cited by some suite (a rule nobody
// checks would be a claim the suite does not make).
#include "fixtures/rules/scenario_rules.h"

#include <dirent.h>

#include <regex>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "fixtures/base/text_file.h"
#include "gtest/gtest.h"

namespace tcpsem {
namespace {

// Every Cite("...") id in the suites' sources (*_test.cc and the suite-local
// *_fixture.h).
std::set<std::string> CitedIds() {
  const std::string dir = std::string(TCPSEM_SOURCE_DIR) + "/tests/suites";
  std::set<std::string> ids;
  DIR* listing = ::opendir(dir.c_str());
  if (listing == nullptr) return ids;
  // The ids inside each Cite(...) call, up to the end of its statement, so
  // that Cite(condition ? "a.b" : "c.d") counts both.
  const std::regex id(R"re("([a-z0-9]+(?:-[a-z0-9]+)*\.[a-z0-9-]+)")re");
  while (dirent* entry = ::readdir(listing)) {
    const std::string name = entry->d_name;
    if (!absl::EndsWith(name, "_test.cc") &&
        !absl::EndsWith(name, "_fixture.h")) {
      continue;
    }
    absl::StatusOr<std::string> text = ReadTextFile(dir + "/" + name);
    if (!text.ok()) continue;
    for (size_t at = text->find("Cite("); at != std::string::npos;
         at = text->find("Cite(", at + 1)) {
      const std::string call = text->substr(at, text->find(';', at) - at);
      for (std::sregex_iterator it(call.begin(), call.end(), id), end;
           it != end; ++it) {
        ids.insert((*it)[1].str());
      }
    }
  }
  ::closedir(listing);
  return ids;
}

TEST(ScenarioRulesTest, EveryCitedRuleExists) {
  const std::set<std::string> cited = CitedIds();
  ASSERT_FALSE(cited.empty()) << "no Cite() found under " << TCPSEM_SOURCE_DIR;
  std::set<std::string> known;
  for (const ScenarioRule& rule : ScenarioRules()) known.insert(rule.id);
  for (const std::string& id : cited) {
    EXPECT_TRUE(known.count(id)) << "a suite cites unknown rule " << id;
  }
}

TEST(ScenarioRulesTest, EveryRuleIsCitedAndComplete) {
  const std::set<std::string> cited = CitedIds();
  std::set<std::string> seen;
  for (const ScenarioRule& rule : ScenarioRules()) {
    EXPECT_TRUE(seen.insert(rule.id).second) << "duplicate id " << rule.id;
    EXPECT_TRUE(cited.count(rule.id)) << "no suite checks rule " << rule.id;
    EXPECT_FALSE(rule.suite.empty() || rule.condition.empty() ||
                 rule.outcome.empty() || rule.source.empty())
        << rule.id;
  }
}

TEST(ScenarioRulesTest, CiteNamesTheRuleAndItsSource) {
  EXPECT_EQ(
      Cite("reset.seq-from-ack").rfind("\n  rule [reset.seq-from-ack]: ", 0),
      0u);
  EXPECT_NE(Cite("reset.seq-from-ack").find("RFC 9293"), std::string::npos);
  EXPECT_NE(Cite("no.such-rule").find("unknown"), std::string::npos);
}

}  // namespace
}  // namespace tcpsem
