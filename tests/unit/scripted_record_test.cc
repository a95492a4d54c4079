// The scripted-peer tests in the record (schema tcpsem-record/2): what a
// test's exchange becomes as witnesses, how those cells are written, read
// and compared, and how a witness one kernel cannot observe is reported.
#include "fixtures/reports/scripted_record.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "fixtures/peers/scripted/scripted_result.h"
#include "fixtures/reports/html_report.h"
#include "fixtures/reports/record_diff.h"
#include "fixtures/reports/record_json.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/harness/status_matchers.h"

namespace tcpsem {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

ExchangedSegment KernelSegment(const std::string& flags, uint32_t seq,
                               uint32_t ack, size_t stimulus,
                               absl::Duration delay) {
  ExchangedSegment s;
  s.sender = Sender::kKernel;
  s.packet.flags = *ParseFlagNotation(flags);
  s.packet.ack = ack;
  s.rel_seq = seq;
  s.rel_ack = ack;
  s.stimulus_index = stimulus;
  s.since_stimulus = delay;
  return s;
}

TEST(ExchangeWitnesses, OneWitnessPerStimulusWithBucketsAndNothingAsDash) {
  const std::vector<std::string> stimuli = {"the start", "data", "close()",
                                            "data"};
  std::vector<ExchangedSegment> exchange = {
      KernelSegment(".", 1, 4, 1, absl::Milliseconds(1)),
      KernelSegment("F.", 1, 4, 2, absl::Milliseconds(50)),
      // The same FIN again: a retransmission, left out.
      KernelSegment("F.", 1, 4, 2, absl::Milliseconds(400)),
      KernelSegment("R.", 2, 7, 3, absl::Milliseconds(0)),
  };
  const auto w = ExchangeWitnesses(exchange, stimuli);
  EXPECT_EQ(w.at("wire.the_start"), "-");
  EXPECT_EQ(w.at("timing.the_start"), "-");
  EXPECT_EQ(w.at("wire.data"), ". seq 1 ack 4 len 0");
  EXPECT_EQ(w.at("timing.data"), "immediate");
  EXPECT_EQ(w.at("wire.close"), "F. seq 1 ack 4 len 0");
  EXPECT_EQ(w.at("timing.close"), "delayed-ack");
  EXPECT_EQ(w.at("wire.data.2"), "R. seq 2 ack 7 len 0");
  EXPECT_EQ(w.size(), 8u);
}

TEST(ExchangeWitnesses, SegmentsOfOneStimulusAreJoinedInOrder) {
  const auto w =
      ExchangeWitnesses({KernelSegment(".", 1, 4, 1, absl::Milliseconds(0)),
                         KernelSegment("P.", 1, 4, 1, absl::Milliseconds(300))},
                        {"the start", "ACK of unsent data"});
  EXPECT_EQ(w.at("wire.ACK_of_unsent_data"),
            ". seq 1 ack 4 len 0; P. seq 1 ack 4 len 0");
  EXPECT_EQ(w.at("timing.ACK_of_unsent_data"), "immediate; rto-probe");
}

ScriptedResult SampleResult(const std::string& answer) {
  ScriptedResult r;
  r.name = "ScriptedRfc5961/Rfc5961Test.AckOfUnsentData/V4";
  r.suite = "ScriptedRfc5961";
  r.family = "V4";
  r.verdict = "pass";
  r.witnesses = {{"wire.ACK_of_unsent_data", answer},
                 {"counters", "-"},
                 {"sockdiag.kernel_socket", "ESTABLISHED"}};
  return r;
}

Record RecordOf(const std::string& release,
                const std::vector<ScriptedResult>& results) {
  Record record;
  record.kernel_release = release;
  record.source = release + ".json";
  AppendScriptedResults(results, &record);
  return record;
}

TEST(ScriptedRecord, ScriptedCellsRoundTripInSchema2) {
  ScriptedResult r = SampleResult(". seq 1 ack 4 len 0");
  r.unobservable["reset.reasons"] = "no `reason` field";
  const Record written = RecordOf("6.18.44", {r});
  const std::string text = RecordToJson(written);
  EXPECT_THAT(text, HasSubstr("\"schema\": \"tcpsem-record/2\""));
  absl::StatusOr<Record> read = ParseRecordJson(text);
  ASSERT_OK(read);
  EXPECT_EQ(read->read_schema, "tcpsem-record/2");
  ASSERT_EQ(read->cells.size(), 1u);
  const RecordCell& c = read->cells[0];
  EXPECT_EQ(c.kind, "scripted");
  EXPECT_EQ(c.suite, "ScriptedRfc5961");
  EXPECT_EQ(c.family, "V4");
  EXPECT_EQ(c.witnesses, r.witnesses);
  EXPECT_EQ(c.unobservable, r.unobservable);
  EXPECT_EQ(c.reset_reasons_unavailable, "no `reason` field");
}

TEST(ScriptedRecord, ReaderRefusesAnUnknownKind) {
  std::string text = RecordToJson(RecordOf("6.18.44", {SampleResult("-")}));
  text.replace(text.find("\"scripted\""), 10, "\"other\"");
  absl::StatusOr<Record> read = ParseRecordJson(text);
  ASSERT_FALSE(read.ok());
  EXPECT_THAT(read.status().message(), HasSubstr("cells[0].kind is \"other\""));
}

TEST(ScriptedRecord, DiffGroupsAScriptedChangeWithItsSuite) {
  ScriptedResult v6 = SampleResult("-");
  v6.name = "ScriptedRfc5961/Rfc5961Test.AckOfUnsentData/V6";
  v6.family = "V6";
  ScriptedResult v6_new = v6;
  v6_new.witnesses["wire.ACK_of_unsent_data"] = ". seq 1 ack 4 len 0";
  const Record old_record = RecordOf("6.12.117", {SampleResult("-"), v6});
  const Record new_record =
      RecordOf("6.18.44", {SampleResult(". seq 1 ack 4 len 0"), v6_new});
  const RecordDiff diff = DiffRecords(old_record, new_record);
  EXPECT_FALSE(diff.Identical());
  EXPECT_EQ(diff.changed_cells, 2);
  ASSERT_EQ(diff.groups.size(), 1u);
  EXPECT_EQ(diff.groups[0].witness, "wire.ACK_of_unsent_data");
  EXPECT_THAT(diff.groups[0].common_axes,
              ElementsAre("kind=scripted", "suite=ScriptedRfc5961"));
  EXPECT_THAT(FormatDiff(old_record, new_record, diff),
              HasSubstr("2 cells: wire.ACK_of_unsent_data - → . seq 1 ack 4 "
                        "len 0\n  all with kind=scripted, "
                        "suite=ScriptedRfc5961\n"));
}

TEST(ScriptedRecord, AWitnessOneKernelCannotObserveIsNotAChange) {
  ScriptedResult old_result = SampleResult("-");
  old_result.unobservable["reset.reasons"] =
      "tcp:tcp_send_reset has no `reason` field";
  ScriptedResult new_result = SampleResult("-");
  new_result.witnesses["reset.reasons"] = "-";
  const Record old_record = RecordOf("6.1.192", {old_result});
  const Record new_record = RecordOf("6.12.117", {new_result});
  const RecordDiff diff = DiffRecords(old_record, new_record);
  EXPECT_TRUE(diff.Identical());
  EXPECT_EQ(diff.changed_cells, 0);
  ASSERT_EQ(diff.unobservable.size(), 1u);
  EXPECT_EQ(diff.unobservable[0].witness, "reset.reasons");
  EXPECT_EQ(diff.unobservable[0].kernel, "6.1.192");
  EXPECT_THAT(diff.unobservable[0].cells, ElementsAre(old_result.name));
  const std::string text = FormatDiff(old_record, new_record, diff);
  EXPECT_THAT(text, HasSubstr("not observable on kernel 6.1.192: "
                              "reset.reasons in 1 cell (not a change): "
                              "tcp:tcp_send_reset has no `reason` field"));
  EXPECT_THAT(text, HasSubstr("witnesses identical"));
  // The other way round (the new kernel lost it) is said alike.
  const RecordDiff back = DiffRecords(new_record, old_record);
  ASSERT_EQ(back.unobservable.size(), 1u);
  EXPECT_EQ(back.unobservable[0].kernel, "6.1.192");
}

TEST(ScriptedRecord, AMatrixCellWithoutResetReasonsSaysWhy) {
  Record old_record, new_record;
  old_record.kernel_release = "6.1.192";
  new_record.kernel_release = "6.12.117";
  RecordCell cell;
  cell.name = "V4_Unread1_LingerOff_NoShutdown_PeerOpen";
  cell.witnesses = {{"wire.close", "RST"}};
  cell.reset_reasons_unavailable = "no reason field";
  old_record.cells.push_back(cell);
  cell.witnesses["reset.reasons"] = "closer:TCP_ABORT_ON_CLOSE";
  cell.reset_reasons_unavailable.clear();
  new_record.cells.push_back(cell);
  const RecordDiff diff = DiffRecords(old_record, new_record);
  EXPECT_TRUE(diff.Identical());
  ASSERT_EQ(diff.unobservable.size(), 1u);
  EXPECT_EQ(diff.unobservable[0].reason, "no reason field");
}

TEST(ScriptedRecord, AWitnessMissingWithoutAReasonIsAChange) {
  ScriptedResult old_result = SampleResult("-");
  old_result.witnesses.erase("sockdiag.kernel_socket");
  const Record old_record = RecordOf("6.1.192", {old_result});
  const Record new_record = RecordOf("6.12.117", {SampleResult("-")});
  const RecordDiff diff = DiffRecords(old_record, new_record);
  EXPECT_FALSE(diff.Identical());
  EXPECT_THAT(diff.unobservable, IsEmpty());
  ASSERT_EQ(diff.groups.size(), 1u);
  EXPECT_EQ(diff.groups[0].old_value, kAbsentWitness);
}

TEST(ScriptedRecord, ASchema1RecordReadsWithANote) {
  const std::string v1 =
      "{\"schema\": \"tcpsem-record/1\", \"kernel\": {\"release\": \"6.1\", "
      "\"version\": \"\"}, \"profile\": {\"name\": \"default\", \"sysctls\": "
      "{}}, \"cells\": []}";
  absl::StatusOr<Record> old_record = ParseRecord(v1, "old.json");
  ASSERT_OK(old_record);
  EXPECT_EQ(old_record->read_schema, "tcpsem-record/1");
  const Record new_record = RecordOf("6.12", {SampleResult("-")});
  const RecordDiff diff = DiffRecords(*old_record, new_record);
  EXPECT_THAT(diff.only_in_new, ElementsAre(SampleResult("-").name));
  EXPECT_THAT(FormatDiff(*old_record, new_record, diff),
              HasSubstr("note: old.json is a tcpsem-record/1 record"));
}

TEST(ScriptedRecord, HtmlDiffShowsScriptedTestsAndUnobservableWitnesses) {
  ScriptedResult old_result = SampleResult("-");
  old_result.unobservable["reset.reasons"] = "no reason field";
  ScriptedResult new_result = SampleResult(". seq 1 ack 4 len 0");
  new_result.witnesses["reset.reasons"] = "-";
  const std::string html = HtmlDiffReport(RecordOf("6.1.192", {old_result}),
                                          RecordOf("6.18.44", {new_result}));
  EXPECT_THAT(html, HasSubstr("<h2>scripted-peer tests</h2>"));
  EXPECT_THAT(html, HasSubstr("ScriptedRfc5961/Rfc5961Test.AckOfUnsentData"));
  EXPECT_THAT(html, HasSubstr("changed (1)"));
  EXPECT_THAT(html, HasSubstr("not observable on kernel <b>6.1.192</b>"));
  EXPECT_THAT(html, HasSubstr("<i>not observable on 6.1.192</i>"));
  // No scripted cell, no section.
  EXPECT_THAT(HtmlReport(Record{}), Not(HasSubstr("scripted-peer tests")));
}

}  // namespace
}  // namespace tcpsem
