// The golden file tests/data/matrix_cells.txt and the rule table agree, row
// by row, so a rule change shows up in review as a row diff.
#include "fixtures/rules/cell_model.h"

#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "fixtures/base/text_file.h"
#include "fixtures/rules/rule_table.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/harness/status_matchers.h"

namespace tcpsem {
namespace {

using ::testing::HasSubstr;

constexpr char kGolden[] = TCPSEM_SOURCE_DIR "/tests/data/matrix_cells.txt";

TEST(CellModel, GoldenFileMatchesTheRuleTable) {
  ASSERT_OK_AND_ASSIGN(const std::string golden, ReadTextFile(kGolden));
  const std::string model = CellModelTable();
  if (golden == model) return;
  const std::vector<std::string> want = absl::StrSplit(golden, '\n');
  const std::vector<std::string> have = absl::StrSplit(model, '\n');
  std::string rows;
  int shown = 0;
  for (size_t i = 0; i < std::max(want.size(), have.size()); ++i) {
    const std::string w = i < want.size() ? want[i] : "(no row)";
    const std::string h = i < have.size() ? have[i] : "(no row)";
    if (w == h) continue;
    if (++shown > 20) {
      rows += "  ...\n";
      break;
    }
    rows += "  golden: " + w + "\n  model:  " + h + "\n";
  }
  ADD_FAILURE() << kGolden << " disagrees with the rule table in these rows:\n"
                << rows
                << "If the rule change is intended, regenerate with\n"
                   "  build/tools/tcpsem_rules --cells > "
                   "tests/data/matrix_cells.txt\nand review the row diff.";
}

// Data after a FIN close is answered by whichever socket holds FIN_WAIT2:
// the rules follow the holder the staging observed (fin_wait2_holder.h).
TEST(RuleTable, DataAfterFinCloseFollowsTheObservedHolder) {
  Scenario s;
  s.family = Family::kV4;
  s.unread = Unread::kNone;
  s.linger = Linger::kOff;
  s.shutdown = Shutdown::kNone;
  s.peer_half_closed = false;
  const KernelVersion kernel{6, 12, 117};
  Conditions timewait;
  Conditions full_orphan;
  full_orphan.fin_wait2_full_orphan = true;
  const Expected by_timewait = Expect(s, kernel, timewait);
  const Expected by_orphan = Expect(s, kernel, full_orphan);
  EXPECT_EQ(by_timewait.at(witness::kCountersAfter).value,
            "EstabResets+1 OutRsts+1");
  EXPECT_EQ(by_orphan.at(witness::kCountersAfter).value,
            "EstabResets+1 OutRsts+1 TCPAbortOnData+1");
  EXPECT_EQ(by_timewait.at(witness::kResetReasons).value,
            "closer:TCP_TIMEWAIT_SOCKET");
  EXPECT_EQ(by_orphan.at(witness::kResetReasons).value,
            "closer:TCP_ABORT_ON_DATA");
  // Everything else the peer and the wire see is the same.
  for (const char* same : {witness::kWireClose, witness::kWireAfter,
                           witness::kPeerRecv, witness::kPeerSend}) {
    EXPECT_EQ(by_timewait.at(same).value, by_orphan.at(same).value) << same;
  }
}

TEST(CellModel, RowNamesTheCellAndEveryExpectedWitness) {
  Scenario s;
  s.family = Family::kV6;
  s.unread = Unread::kOne;
  s.linger = Linger::kZero;
  s.shutdown = Shutdown::kWr;
  s.peer_half_closed = true;
  const std::string row = CellModelRow(s);
  EXPECT_THAT(row, ::testing::StartsWith(
                       "V6_Unread1_Linger0s_ShutWr_PeerHalfClosed | "));
  EXPECT_THAT(row, HasSubstr(" | wire.shutdown=FIN"));
  // The reason field exists only from 6.12 on (reasons.since-6.12).
  EXPECT_THAT(row, HasSubstr(" | reset.reasons={<6.12.0: (any); >=6.12.0: "));
}

}  // namespace
}  // namespace tcpsem
