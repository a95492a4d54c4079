#include "fixtures/reports/journal_reader.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "fixtures/reports/record_diff.h"
#include "fixtures/reports/record_json.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tcpsem {
namespace {

using ::testing::HasSubstr;

constexpr char kBody[] = "Rfc2525/CloseMatrixTest.AgreesWithRuleTable/";

std::string Context() {
  return "{\"schema\": \"tcpsem-record/1\", \"kernel\": {\"release\": "
         "\"6.12.0-tcpsem\", \"version\": \"#1\"}, \"profile\": {\"name\": "
         "\"default\", \"sysctls\": {}}, \"cells\": []}";
}

std::string Cell(const std::string& name, const std::string& wire_close) {
  return absl::StrCat(
      "{\"name\": \"", name,
      "\", \"family\": \"V4\", \"unread\": \"Unread1\", \"linger\": "
      "\"LingerOff\", \"shutdown\": \"NoShutdown\", \"peer\": \"PeerOpen\", "
      "\"verdict\": \"pass\", \"mismatches\": [], \"witnesses\": "
      "{\"wire.close\": \"",
      wire_close,
      "\"}, \"expected\": {}, \"counters\": {}, \"bytes_sent_by_peer\": 1, "
      "\"unread_at_close\": 1, \"close_duration_us\": 3, "
      "\"reset_reasons_unavailable\": \"\"}");
}

std::string End(const std::string& test, const std::string& cells) {
  return absl::StrCat(
      "{\"event\": \"end\", \"test\": \"", test,
      "\", \"result\": \"passed\", \"ms\": 12, \"failure\": \"\", "
      "\"record\": {\"schema\": \"tcpsem-record/1\", \"cells\": [",
      cells, "]}}");
}

// A run that finished one matrix cell, hung in the next, and never reached
// a third test of another suite.
Journal HungRun() {
  Journal journal;
  const std::string a = "V4_Unread1_LingerOff_NoShutdown_PeerOpen";
  const std::string b = "V4_UnreadWindowFull_Linger1s_ShutWr_PeerOpen";
  for (const std::string& line :
       {absl::StrCat("{\"event\": \"program_start\", \"pid\": 1, \"record\": ",
                     Context(), "}"),
        absl::StrCat("{\"event\": \"start\", \"test\": \"", kBody, a, "\"}"),
        End(absl::StrCat(kBody, a), Cell(a, "RST")),
        absl::StrCat("{\"event\": \"start\", \"test\": \"", kBody, b, "\"}"),
        std::string("{\"event\": \"end\", \"test\": \"cut sho")}) {
    ApplyJournalLine(line, &journal);
  }
  return journal;
}

TEST(JournalReaderTest, FinishedRunningAndCutShortLines) {
  const Journal journal = HungRun();
  EXPECT_EQ(journal.programs, 1);
  ASSERT_EQ(journal.finished.size(), 1u);
  EXPECT_EQ(journal.finished[0].result, "passed");
  EXPECT_EQ(journal.finished[0].cells.size(), 1u);
  ASSERT_TRUE(journal.running.has_value());
  EXPECT_EQ(
      *journal.running,
      absl::StrCat(kBody, "V4_UnreadWindowFull_Linger1s_ShutWr_PeerOpen"));
  EXPECT_EQ(journal.bad_lines, 1);  // the line the kill cut short
}

TEST(JournalReaderTest, MergedRecordMarksTheHungCellAndOnlyCellSuites) {
  const Journal journal = HungRun();
  absl::StatusOr<std::string> merged = MergedRecordJson(
      journal,
      {{absl::StrCat(kBody, "V4_UnreadWindowFull_Linger1s_ShutWr_PeerOpen"),
        "hung", "no result after 60s"},
       {"PeerView/PeerViewTest.Order/V4", "not_run", "deadline"}});
  ASSERT_TRUE(merged.ok()) << merged.status();
  absl::StatusOr<Record> record = ParseRecord(*merged, "merged");
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(record->kernel_release, "6.12.0-tcpsem");
  // The hung matrix test is a cell; the other suite wrote no cells, so its
  // never-run test is not made one.
  ASSERT_EQ(record->cells.size(), 2u);
  const RecordCell& hung = record->cells[1];
  EXPECT_EQ(hung.name, "V4_UnreadWindowFull_Linger1s_ShutWr_PeerOpen");
  EXPECT_EQ(hung.verdict, "hung");
  EXPECT_EQ(hung.linger, "Linger1s");
  EXPECT_FALSE(CellFinished(hung));
  EXPECT_TRUE(CellFinished(record->cells[0]));
}

TEST(JournalReaderTest, NoProgramStartedIsNoRecord) {
  Journal journal;
  ApplyJournalLine("{\"event\": \"start\", \"test\": \"A.B\"}", &journal);
  EXPECT_FALSE(MergedRecordJson(journal, {}).ok());
}

// A hung cell is a change of its own in a diff, never "identical": against
// a finished cell, and against a cell that hung in the old record too.
TEST(JournalReaderTest, DiffShowsAHungCellAsARunChange) {
  const std::string a = "V4_Unread1_LingerOff_NoShutdown_PeerOpen";
  const std::string b = "V4_UnreadWindowFull_Linger1s_ShutWr_PeerOpen";
  Journal full;
  ApplyJournalLine(absl::StrCat("{\"event\": \"program_start\", \"record\": ",
                                Context(), "}"),
                   &full);
  ApplyJournalLine(End(absl::StrCat(kBody, a), Cell(a, "RST")), &full);
  ApplyJournalLine(End(absl::StrCat(kBody, b), Cell(b, "RST")), &full);
  absl::StatusOr<Record> old_record =
      ParseRecord(*MergedRecordJson(full, {}), "old");
  const std::vector<UnfinishedTest> hung = {
      {absl::StrCat(kBody, b), "hung", "no result"}};
  absl::StatusOr<Record> new_record =
      ParseRecord(*MergedRecordJson(HungRun(), hung), "new");
  ASSERT_TRUE(old_record.ok()) << old_record.status();
  ASSERT_TRUE(new_record.ok()) << new_record.status();
  RecordDiff diff = DiffRecords(*old_record, *new_record);
  EXPECT_FALSE(diff.Identical());
  ASSERT_EQ(diff.groups.size(), 1u);
  EXPECT_EQ(diff.groups[0].witness, "run");
  EXPECT_EQ(diff.groups[0].old_value, "pass");
  EXPECT_EQ(diff.groups[0].new_value, "hung");
  EXPECT_THAT(FormatDiff(*old_record, *new_record, diff),
              HasSubstr("run pass → hung"));
  RecordDiff both = DiffRecords(*new_record, *new_record);
  EXPECT_FALSE(both.Identical());
}

}  // namespace
}  // namespace tcpsem
