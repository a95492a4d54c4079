// The scenario suites' tests in the record (cells of kind "scenario"): from
// the journal to the merged record, through tcpsem_diff's comparison, to the
// HTML diff's sections.
#include "fixtures/reports/scenario_record.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "fixtures/reports/html_report.h"
#include "fixtures/reports/journal_reader.h"
#include "fixtures/reports/record_diff.h"
#include "fixtures/reports/record_json.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tcpsem {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr char kPoll[] = "PeerView/PeerViewTest.PollSeesTheReset/V4";
constexpr char kPoll6[] = "PeerView/PeerViewTest.PollSeesTheReset/V6";
constexpr char kOrder[] = "PeerView/PeerViewTest.SoErrorOnce/V4";

RecordCell Scenario(const std::string& name, const std::string& poll,
                    const std::string& verdict = "pass") {
  RecordCell cell;
  cell.kind = kScenarioCell;
  cell.name = name;
  cell.suite = ScenarioSuiteOf(name);
  cell.verdict = verdict;
  cell.witnesses = {{"peer: poll", poll}, {"wire: close emits", "RST"}};
  cell.expected = {{"peer: poll", "IN,OUT,ERR,HUP,RDHUP"},
                   {"wire: close emits", "RST"}};
  if (poll != "IN,OUT,ERR,HUP,RDHUP") cell.mismatches = {"peer: poll"};
  cell.ladder =
      absl::StrCat("setup |-> S seq=0 ->|\nclose |<- R. -| (", name, ")\n");
  return cell;
}

Record RecordOf(const std::string& release, std::vector<RecordCell> cells) {
  Record record;
  record.source = release;
  record.kernel_release = release;
  record.kernel_version = "#1";
  record.profile = "default";
  record.cells = std::move(cells);
  return record;
}

std::string EndLine(const std::string& test, const std::string& result,
                    const std::vector<RecordCell>& cells) {
  std::string record = RecordToJson(RecordOf("6.12.0-tcpsem", cells));
  return absl::StrCat(
      "{\"event\": \"end\", \"test\": \"", test, "\", \"result\": \"", result,
      "\", \"ms\": 5, \"failure\": \"\", \"record\": ", record, "}");
}

std::string Line(std::string text) {
  for (char& c : text) {
    if (c == '\n') c = ' ';
  }
  return text;
}

TEST(ScenarioRecordJournal, FinishedAndUnfinishedTestsBecomeCells) {
  Journal journal;
  for (const std::string& line :
       {absl::StrCat("{\"event\": \"program_start\", \"pid\": 1, \"record\": ",
                     RecordToJson(RecordOf("6.12.0-tcpsem", {})), "}"),
        EndLine(kPoll, "passed", {Scenario(kPoll, "IN,OUT,ERR,HUP,RDHUP")}),
        EndLine(kOrder, "failed", {Scenario(kOrder, "IN", "fail")}),
        absl::StrCat("{\"event\": \"start\", \"test\": \"", kPoll6, "\"}")}) {
    ApplyJournalLine(Line(line), &journal);
  }
  EXPECT_EQ(journal.bad_lines, 0);
  absl::StatusOr<std::string> merged = MergedRecordJson(
      journal,
      {{kPoll6, "hung", "no result after 60s"},
       {"PeerView/PeerViewTest.Epoll/V4", "not_run", "deadline"},
       {"LingerWait/LingerWaitTest.Blocks/V4", "not_run", "deadline"}});
  ASSERT_TRUE(merged.ok()) << merged.status();
  absl::StatusOr<Record> record = ParseRecord(*merged, "merged");
  ASSERT_TRUE(record.ok()) << record.status();
  // The suite that wrote scenario cells gets a cell for each unfinished
  // test; LingerWait wrote none in this run, so its test is not made one.
  ASSERT_EQ(record->cells.size(), 4u);
  const RecordCell& poll = record->cells[0];
  EXPECT_EQ(poll.kind, kScenarioCell);
  EXPECT_EQ(poll.name, kPoll);
  EXPECT_EQ(poll.suite, "PeerView");
  EXPECT_EQ(poll.witnesses.at("peer: poll"), "IN,OUT,ERR,HUP,RDHUP");
  EXPECT_EQ(poll.expected.at("wire: close emits"), "RST");
  EXPECT_THAT(poll.ladder, HasSubstr("close |<- R. -|"));
  EXPECT_EQ(record->cells[1].verdict, "fail");
  EXPECT_THAT(record->cells[1].mismatches, ElementsAre("peer: poll"));
  const RecordCell& hung = record->cells[2];
  EXPECT_EQ(hung.name, kPoll6);
  EXPECT_EQ(hung.kind, kScenarioCell);
  EXPECT_EQ(hung.suite, "PeerView");
  EXPECT_EQ(hung.verdict, "hung");
  EXPECT_THAT(hung.witnesses, IsEmpty());
  EXPECT_FALSE(CellFinished(hung));
  EXPECT_EQ(record->cells[3].verdict, "not_run");
}

TEST(ScenarioRecordDiff, IdenticalRecordsAreIdentical) {
  const Record a = RecordOf("6.1", {Scenario(kPoll, "IN,OUT,ERR,HUP,RDHUP")});
  const RecordDiff diff = DiffRecords(a, a);
  EXPECT_TRUE(diff.Identical());
  EXPECT_EQ(diff.common_cells, 1);
}

TEST(ScenarioRecordDiff, AChangedWitnessIsGroupedWithItsSuite) {
  const Record old_record =
      RecordOf("6.1", {Scenario(kPoll, "IN,OUT,ERR,HUP,RDHUP"),
                       Scenario(kPoll6, "IN,OUT,ERR,HUP,RDHUP")});
  const Record new_record = RecordOf(
      "6.12",
      {Scenario(kPoll, "IN,OUT,RDHUP"), Scenario(kPoll6, "IN,OUT,RDHUP")});
  const RecordDiff diff = DiffRecords(old_record, new_record);
  EXPECT_FALSE(diff.Identical());
  EXPECT_EQ(diff.changed_cells, 2);
  // The witness changed; the verdict ("pass" on both records here) did not.
  ASSERT_EQ(diff.groups.size(), 1u);
  EXPECT_EQ(diff.groups[0].witness, "peer: poll");
  EXPECT_EQ(diff.groups[0].new_value, "IN,OUT,RDHUP");
  EXPECT_THAT(diff.groups[0].cells, ElementsAre(kPoll, kPoll6));
  EXPECT_THAT(diff.groups[0].common_axes,
              ElementsAre("kind=scenario", "suite=PeerView"));
}

TEST(ScenarioRecordDiff, AVerdictChangeAloneIsAChange) {
  // A test can fail on an assertion that is no EXPECT_WITNESS: same
  // witnesses, other verdict.
  const RecordDiff diff = DiffRecords(
      RecordOf("6.1", {Scenario(kPoll, "IN,OUT,ERR,HUP,RDHUP")}),
      RecordOf("6.12", {Scenario(kPoll, "IN,OUT,ERR,HUP,RDHUP", "fail")}));
  ASSERT_EQ(diff.groups.size(), 1u);
  EXPECT_EQ(diff.groups[0].witness, kVerdictWitness);
  EXPECT_EQ(diff.groups[0].old_value, "pass");
  EXPECT_EQ(diff.groups[0].new_value, "fail");
}

TEST(ScenarioRecordDiff, AHungTestIsAChangeNeverIdentical) {
  RecordCell hung;
  hung.kind = kScenarioCell;
  hung.name = kPoll;
  hung.suite = "PeerView";
  hung.verdict = "hung";
  const Record passed =
      RecordOf("6.1", {Scenario(kPoll, "IN,OUT,ERR,HUP,RDHUP")});
  const Record hung_record = RecordOf("6.12", {hung});
  const RecordDiff diff = DiffRecords(passed, hung_record);
  EXPECT_FALSE(diff.Identical());
  ASSERT_EQ(diff.groups.size(), 1u);
  EXPECT_EQ(diff.groups[0].witness, "run");
  EXPECT_EQ(diff.groups[0].new_value, "hung");
  EXPECT_FALSE(DiffRecords(hung_record, hung_record).Identical());
}

TEST(ScenarioRecordDiff, ATestOnOneSideOnlyIsAChange) {
  const RecordDiff diff =
      DiffRecords(RecordOf("6.1", {Scenario(kPoll, "IN,OUT,ERR,HUP,RDHUP")}),
                  RecordOf("6.12", {Scenario(kPoll, "IN,OUT,ERR,HUP,RDHUP"),
                                    Scenario(kOrder, "IN,OUT,ERR,HUP,RDHUP")}));
  EXPECT_FALSE(diff.Identical());
  EXPECT_THAT(diff.only_in_new, ElementsAre(kOrder));
  EXPECT_THAT(diff.only_in_old, IsEmpty());
}

TEST(ScenarioRecordDiff, AnUnobservableFamilyIsNotAChange) {
  RecordCell old_cell = Scenario(kPoll, "IN,OUT,ERR,HUP,RDHUP");
  old_cell.unobservable = {{"reset reason", "not judged before 6.10"}};
  RecordCell new_cell = old_cell;
  new_cell.unobservable.clear();
  new_cell.witnesses["reset reason"] = "TCP_ABORT_ON_CLOSE";
  new_cell.witnesses["reset reason #2"] = "NOT_SPECIFIED";
  new_cell.witnesses["reset reason: from port"] = "closer";
  const RecordDiff diff =
      DiffRecords(RecordOf("6.1", {old_cell}), RecordOf("6.12", {new_cell}));
  EXPECT_TRUE(diff.Identical());
  ASSERT_EQ(diff.unobservable.size(), 3u);
  EXPECT_EQ(diff.unobservable[0].kernel, "6.1");
  EXPECT_EQ(diff.unobservable[0].reason, "not judged before 6.10");
  // Without the declaration, the same witnesses are a change.
  old_cell.unobservable.clear();
  EXPECT_FALSE(
      DiffRecords(RecordOf("6.1", {old_cell}), RecordOf("6.12", {new_cell}))
          .Identical());
}

TEST(ScenarioRecordDiff, ARecordWithoutScenarioCellsStillReadsAndDiffs) {
  // A schema-2 record written before scenario cells (no "ladder" field).
  const std::string before =
      "{\"schema\": \"tcpsem-record/2\", \"kernel\": {\"release\": \"r\", "
      "\"version\": \"v\", \"upstream\": \"6.1.192\", \"upstream_source\": "
      "\"uname -v\"}, \"profile\": {\"name\": \"default\", \"sysctls\": {}}, "
      "\"cells\": [{\"name\": \"ScriptedX/T.U/V4\", \"family\": \"V4\", "
      "\"unread\": \"\", \"linger\": \"\", \"shutdown\": \"\", \"peer\": \"\", "
      "\"verdict\": \"pass\", \"mismatches\": [], \"witnesses\": {\"w\": "
      "\"1\"}, \"expected\": {}, \"counters\": {}, \"bytes_sent_by_peer\": 0, "
      "\"unread_at_close\": 0, \"close_duration_us\": 0, "
      "\"reset_reasons_unavailable\": \"\", \"kind\": \"scripted\", "
      "\"suite\": \"ScriptedX\", \"unobservable\": {}}]}";
  absl::StatusOr<Record> old_record = ParseRecord(before, "old");
  ASSERT_TRUE(old_record.ok()) << old_record.status();
  EXPECT_EQ(old_record->cells[0].ladder, "");
  Record new_record = *old_record;
  new_record.cells.push_back(Scenario(kPoll, "IN,OUT,ERR,HUP,RDHUP"));
  const RecordDiff diff = DiffRecords(*old_record, new_record);
  EXPECT_THAT(diff.only_in_new, ElementsAre(kPoll));
  EXPECT_THAT(diff.groups, IsEmpty());
}

TEST(ScenarioRecordHtml, DiffHasASectionPerSuiteWithTheChangedTestMarked) {
  Record old_record = RecordOf("6.1.0-57-cloud-amd64",
                               {Scenario(kPoll, "IN,OUT,ERR,HUP,RDHUP"),
                                Scenario(kOrder, "IN,OUT,ERR,HUP,RDHUP")});
  RecordCell linger = Scenario("LingerWait/LingerWaitTest.Blocks/V4", "IN");
  old_record.cells.push_back(linger);
  Record new_record = RecordOf("6.12.0-1-cloud-amd64",
                               {Scenario(kPoll, "IN,OUT,RDHUP", "fail"),
                                Scenario(kOrder, "IN,OUT,ERR,HUP,RDHUP")});
  new_record.cells.push_back(linger);
  const std::string html = HtmlDiffReport(old_record, new_record);
  EXPECT_THAT(html, HasSubstr("<section class=\"suite\" id=\"suite-PeerView\">"
                              "<h2>PeerView</h2><p>2 tests, 1 changed"));
  EXPECT_THAT(html, HasSubstr("<section class=\"suite\" "
                              "id=\"suite-LingerWait\"><h2>LingerWait</h2><p>1 "
                              "test, 0 changed</p>"));
  // Where to look: the suites with changes first.
  EXPECT_THAT(html, HasSubstr("<b>Suites with changed tests:</b> <a "
                              "href=\"#suite-PeerView\">PeerView</a> (1)<br>"
                              "<b>Suites without:</b> LingerWait</p>"));
  // The changed test: outlined, listed at the head, both kernels inside.
  EXPECT_THAT(html, HasSubstr("<details class=\"test changed\" "
                              "id=\"t-PeerView-PeerViewTest-PollSeesTheReset-"
                              "V4\">"));
  EXPECT_THAT(html, HasSubstr("<a href=\"#t-PeerView-PeerViewTest-"
                              "PollSeesTheReset-V4\">PeerViewTest."
                              "PollSeesTheReset/V4</a>"));
  EXPECT_THAT(html, HasSubstr("changed: peer: poll, verdict"));
  EXPECT_THAT(html, HasSubstr("<h4>old: kernel release 6.1.0-57-cloud-amd64"));
  EXPECT_THAT(html, HasSubstr("<h4>new: kernel release 6.12.0-1-cloud-amd64"));
  EXPECT_THAT(html, HasSubstr("<tr class=\"delta mismatch\"><td>peer: poll"));
  EXPECT_THAT(html, HasSubstr("<pre class=\"ladder\">setup |-&gt; S"));
  // The unchanged test is not outlined.
  EXPECT_THAT(html, HasSubstr("<details class=\"test\" id=\"t-PeerView-"
                              "PeerViewTest-SoErrorOnce-V4\">"));
  // Without a scenario cell there is no section.
  EXPECT_THAT(HtmlDiffReport(RecordOf("a", {}), RecordOf("b", {})),
              Not(HasSubstr("scenario suites")));
}

TEST(ScenarioRecordHtml, ASingleRecordShowsItsSuites) {
  const std::string html =
      HtmlReport(RecordOf("6.18", {Scenario(kPoll, "IN,OUT,ERR,HUP,RDHUP")}));
  EXPECT_THAT(html, HasSubstr("<h2>PeerView</h2><p>1 test</p>"));
  EXPECT_THAT(html, HasSubstr("<h4>this run: kernel release 6.18"));
  EXPECT_THAT(html, Not(HasSubstr("test changed")));
  // No matrix cell: no empty grid, no legend for it.
  EXPECT_THAT(html, Not(HasSubstr("<table class=\"grid\">")));
  EXPECT_THAT(html, Not(HasSubstr("Closing side on the wire")));
}

}  // namespace
}  // namespace tcpsem
