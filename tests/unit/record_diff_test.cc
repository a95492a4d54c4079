#include "fixtures/reports/record_diff.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "fixtures/base/text_file.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/harness/status_matchers.h"

namespace tcpsem {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

std::string CellJson(const std::string& linger, const std::string& shutdown,
                     const std::string& wire_close) {
  std::string name =
      absl::StrCat("V4_Unread1_", linger, "_", shutdown, "_PeerOpen");
  return absl::StrCat(
      "{\"name\": \"", name,
      "\", \"family\": \"V4\", \"unread\": \"Unread1\", \"linger\": \"", linger,
      "\", \"shutdown\": \"", shutdown,
      "\", \"peer\": \"PeerOpen\", \"verdict\": \"pass\", \"mismatches\": [], "
      "\"witnesses\": {\"wire.shutdown\": \"-\", \"wire.close\": \"",
      wire_close,
      "\"}, \"expected\": {\"wire.close\": \"RST\"}, \"counters\": "
      "{\"shutdown\": \"-\", \"close\": \"-\", \"after\": \"-\"}, "
      "\"bytes_sent_by_peer\": 1, \"unread_at_close\": 1, "
      "\"close_duration_us\": 12, \"reset_reasons_unavailable\": \"\"}");
}

// A small record: linger × shutdown, every close sending `wire_close`.
std::string RecordText(const std::string& wire_close,
                       const std::string& rmem = "4096 131072 6291456") {
  std::string cells;
  for (const char* linger : {"LingerOff", "Linger0s"}) {
    for (const char* shutdown : {"NoShutdown", "ShutWr", "ShutRd"}) {
      if (!cells.empty()) cells += ",\n";
      cells += CellJson(linger, shutdown, wire_close);
    }
  }
  return absl::StrCat(
      "{\"schema\": \"tcpsem-record/1\", \"kernel\": {\"release\": "
      "\"6.18.0\", \"version\": \"#1 SMP\"}, \"profile\": {\"name\": "
      "\"default\", \"sysctls\": {\"net.ipv4.tcp_rmem\": \"",
      rmem, "\"}}, \"cells\": [\n", cells, "\n]}\n");
}

Record MustParse(const std::string& text, const std::string& source) {
  absl::StatusOr<Record> record = ParseRecord(text, source);
  EXPECT_OK(record);
  return record.ok() ? *record : Record{};
}

TEST(RecordReader, ParsesTheFields) {
  Record r = MustParse(RecordText("RST"), "a.json");
  EXPECT_EQ(r.kernel_release, "6.18.0");
  EXPECT_EQ(r.profile, "default");
  ASSERT_EQ(r.cells.size(), 6u);
  EXPECT_EQ(r.cells[0].name, "V4_Unread1_LingerOff_NoShutdown_PeerOpen");
  EXPECT_EQ(r.cells[0].witnesses.at("wire.close"), "RST");
  EXPECT_EQ(r.cells[0].close_duration_us, 12);
  EXPECT_EQ(r.sysctls.at("net.ipv4.tcp_rmem"), "4096 131072 6291456");
}

TEST(RecordDiff, RecordWithItselfIsEmpty) {
  Record r = MustParse(RecordText("RST"), "a.json");
  RecordDiff diff = DiffRecords(r, r);
  EXPECT_TRUE(diff.Identical());
  EXPECT_THAT(diff.groups, IsEmpty());
  EXPECT_THAT(diff.sysctls, IsEmpty());
  EXPECT_EQ(diff.common_cells, 6);
  EXPECT_THAT(FormatDiff(r, r, diff), HasSubstr("witnesses identical"));
}

TEST(RecordDiff, GroupsTheSameChange) {
  Record old_record = MustParse(RecordText("FIN"), "old.json");
  std::string changed = RecordText("FIN", "1 2 3");
  // Linger0s cells now reset; one of them with FIN then RST.
  changed = absl::StrReplaceAll(
      changed, {{"Linger0s_NoShutdown_PeerOpen\", \"family\"",
                 "Linger0s_NoShutdown_PeerOpen\", \"family\""}});
  Record new_record = MustParse(changed, "new.json");
  for (RecordCell& c : new_record.cells) {
    if (c.linger == "Linger0s") c.witnesses["wire.close"] = "RST";
  }
  new_record.cells[5].witnesses["wire.close"] = "FIN,RST";
  RecordDiff diff = DiffRecords(old_record, new_record);
  EXPECT_FALSE(diff.Identical());
  EXPECT_EQ(diff.changed_cells, 3);
  ASSERT_EQ(diff.groups.size(), 2u);
  EXPECT_EQ(diff.groups[0].witness, "wire.close");
  EXPECT_EQ(diff.groups[0].old_value, "FIN");
  EXPECT_EQ(diff.groups[0].new_value, "RST");
  EXPECT_THAT(diff.groups[0].cells,
              ElementsAre("V4_Unread1_Linger0s_NoShutdown_PeerOpen",
                          "V4_Unread1_Linger0s_ShutWr_PeerOpen"));
  EXPECT_THAT(diff.groups[0].common_axes,
              ::testing::Contains("linger=Linger0s"));
  EXPECT_EQ(diff.groups[1].new_value, "FIN,RST");
  ASSERT_EQ(diff.sysctls.size(), 1u);
  EXPECT_EQ(diff.sysctls[0].new_value, "1 2 3");

  std::string text = FormatDiff(old_record, new_record, diff);
  EXPECT_THAT(text, HasSubstr("2 cells: wire.close FIN → RST"));
  EXPECT_THAT(text, HasSubstr("1 cell: wire.close FIN → FIN,RST"));
  EXPECT_THAT(text,
              HasSubstr("net.ipv4.tcp_rmem: 4096 131072 6291456 → 1 2 3"));
}

TEST(RecordDiff, CellsInOneRecordOnly) {
  Record old_record = MustParse(RecordText("FIN"), "old.json");
  Record new_record = old_record;
  new_record.cells.erase(new_record.cells.begin());
  RecordDiff diff = DiffRecords(old_record, new_record);
  EXPECT_FALSE(diff.Identical());
  EXPECT_THAT(diff.groups, IsEmpty());
  EXPECT_THAT(diff.only_in_old,
              ElementsAre("V4_Unread1_LingerOff_NoShutdown_PeerOpen"));
  EXPECT_THAT(FormatDiff(old_record, new_record, diff),
              HasSubstr("1 cell only in old"));
}

TEST(RecordReader, RejectsNotJson) {
  absl::StatusOr<Record> r = ParseRecord("this is not json", "bad.json");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("bad.json"));
  EXPECT_THAT(r.status().message(), HasSubstr("malformed JSON"));
  EXPECT_THAT(std::string(r.status().message()), Not(HasSubstr("\n")));
}

TEST(RecordReader, RejectsTruncatedJson) {
  std::string text = RecordText("RST");
  absl::StatusOr<Record> r =
      ParseRecord(text.substr(0, text.size() / 2), "cut.json");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("cut.json"));
}

TEST(RecordReader, RejectsJsonWithoutSchema) {
  absl::StatusOr<Record> r = ParseRecord("{\"cells\": []}", "x.json");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("x.json"));
  EXPECT_THAT(r.status().message(), HasSubstr("schema"));
}

TEST(RecordReader, RejectsWrongSchema) {
  std::string text =
      absl::StrReplaceAll(RecordText("RST"), {{"tcpsem-record/1", "other/2"}});
  absl::StatusOr<Record> r = ParseRecord(text, "x.json");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("\"other/2\""));
}

TEST(RecordReader, RejectsMissingField) {
  std::string text =
      absl::StrReplaceAll(RecordText("RST"), {{"\"verdict\": \"pass\", ", ""}});
  absl::StatusOr<Record> r = ParseRecord(text, "x.json");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(),
              HasSubstr("missing field cells[0].verdict"));
}

TEST(RecordReader, RejectsMissingFile) {
  absl::StatusOr<Record> r = ReadRecordFile("/nonexistent/tcpsem/record.json");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(),
              HasSubstr("/nonexistent/tcpsem/record.json"));
  EXPECT_THAT(r.status().message(), HasSubstr("cannot open"));
}

TEST(RecordReader, ReadsAFile) {
  // In the working directory (ctest's: the build tree), never a shared
  // /tmp, where another user could plant a link at a fixed name.
  const std::string path =
      absl::StrCat("record_diff_test.", ::getpid(), ".json");
  ASSERT_OK(WriteTextFile(path, RecordText("FIN"), WriteMode::kReplace));
  absl::StatusOr<Record> r = ReadRecordFile(path);
  ASSERT_OK(r);
  EXPECT_EQ(r->source, path);
  EXPECT_EQ(r->cells.size(), 6u);
  std::remove(path.c_str());
}

TEST(RecordReader, HandlesEscapes) {
  std::string text = absl::StrReplaceAll(
      RecordText("RST"), {{"\"#1 SMP\"", "\"#1 \\u00b5s \\\"q\\\" \\n\""}});
  Record r = MustParse(text, "x.json");
  EXPECT_EQ(r.kernel_version, "#1 µs \"q\" \n");
}

}  // namespace
}  // namespace tcpsem
