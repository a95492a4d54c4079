// The record's JSON: the writer round-trips, the reader refuses malformed
// input with one line and never crashes, invalid UTF-8 never yields a broken
// document, and records written by the earlier hand-written writer still read.
#include "fixtures/reports/record_json.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/harness/status_matchers.h"

namespace tcpsem {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

Record SampleRecord() {
  Record r;
  r.kernel_release = "6.18.0-test";
  r.kernel_version = "#1 SMP \"quoted\" \\ tab\t µs";
  r.kernel_upstream = "6.18.0";
  r.kernel_upstream_source = "uname -r: 6.18.0-test";
  r.profile = "small-buffers";
  r.sysctls = {{"net.ipv4.tcp_rmem", "4096 131072 6291456"},
               {"net.ipv4.tcp_mem", "1 2 3 (global)"}};
  RecordCell& c = r.cells.emplace_back();
  c.name = "V6_Unread1_Linger0s_ShutWr_PeerHalfClosed";
  c.family = "V6";
  c.unread = "Unread1";
  c.linger = "Linger0s";
  c.shutdown = "ShutWr";
  c.peer = "PeerHalfClosed";
  c.verdict = "fail";
  c.mismatches = {"wire.close", "peer.recv"};
  c.witnesses = {{"wire.close", "RST"}, {"peer.recv", "1,ECONNRESET"}};
  c.expected = {{"wire.close", "FIN"}};
  c.counters = {{"shutdown", "-"}, {"close", "TCPAbortOnClose+1"}};
  c.bytes_sent_by_peer = 1;
  c.unread_at_close = 9007199254740993;  // beyond a double's exact integers
  c.close_duration_us = -1;
  c.reset_reasons_unavailable = "no tracefs\nhere";
  RecordCell& d = r.cells.emplace_back();
  d.name = "V4_Unread0_LingerOff_NoShutdown_PeerOpen";
  d.verdict = "pass";
  return r;
}

void ExpectSameRecord(const Record& a, const Record& b) {
  EXPECT_EQ(a.kernel_release, b.kernel_release);
  EXPECT_EQ(a.kernel_version, b.kernel_version);
  EXPECT_EQ(a.kernel_upstream, b.kernel_upstream);
  EXPECT_EQ(a.kernel_upstream_source, b.kernel_upstream_source);
  EXPECT_EQ(a.profile, b.profile);
  EXPECT_EQ(a.sysctls, b.sysctls);
  ASSERT_EQ(a.cells.size(), b.cells.size());
  for (size_t i = 0; i < a.cells.size(); ++i) {
    const RecordCell& x = a.cells[i];
    const RecordCell& y = b.cells[i];
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(std::tie(x.family, x.unread, x.linger, x.shutdown, x.peer,
                       x.verdict, x.reset_reasons_unavailable),
              std::tie(y.family, y.unread, y.linger, y.shutdown, y.peer,
                       y.verdict, y.reset_reasons_unavailable));
    EXPECT_EQ(x.mismatches, y.mismatches);
    EXPECT_EQ(x.witnesses, y.witnesses);
    EXPECT_EQ(x.expected, y.expected);
    EXPECT_EQ(x.counters, y.counters);
    EXPECT_EQ(
        std::tie(x.bytes_sent_by_peer, x.unread_at_close, x.close_duration_us),
        std::tie(y.bytes_sent_by_peer, y.unread_at_close, y.close_duration_us));
  }
}

TEST(RecordJson, WriterRoundTrips) {
  const Record original = SampleRecord();
  const std::string text = RecordToJson(original);
  absl::StatusOr<Record> read = ParseRecordJson(text);
  ASSERT_OK(read) << "\n" << text;
  ExpectSameRecord(original, *read);
  // Writing what was read gives the same bytes: the form is stable.
  EXPECT_EQ(RecordToJson(*read), text);
}

TEST(RecordJson, WriterPutsOneCellPerLineInTheDocumentedOrder) {
  const std::string text = RecordToJson(SampleRecord());
  EXPECT_THAT(text, testing::StartsWith("{\n  \"schema\": \"tcpsem-record/2\","
                                        "\n  \"kernel\": {\"release\":"));
  EXPECT_THAT(text, HasSubstr("\"upstream\":\"6.18.0\",\"upstream_source\":"
                              "\"uname -r: 6.18.0-test\"}"));
  EXPECT_THAT(text, HasSubstr("\n    {\"name\":\"V6_Unread1_Linger0s_ShutWr_"
                              "PeerHalfClosed\",\"family\":\"V6\","));
  EXPECT_THAT(text, HasSubstr("\"reset_reasons_unavailable\":\"no "
                              "tracefs\\nhere\",\"kind\":\"matrix\","
                              "\"suite\":\"\",\"unobservable\":{},"
                              "\"ladder\":\"\"},\n    "
                              "{\"name\":\"V4_"));
}

TEST(RecordJson, InvalidUtf8BecomesReplacementCharacter) {
  Record r = SampleRecord();
  r.kernel_version = "bad \xff\xfe byte";
  r.cells[0].witnesses["wire.close"] = "R\xc3";  // truncated sequence
  r.sysctls["net.core.\x80key"] = "v";
  const std::string text = RecordToJson(r);
  absl::StatusOr<Record> read = ParseRecordJson(text);
  ASSERT_OK(read);
  EXPECT_EQ(read->kernel_version, "bad \xEF\xBF\xBD\xEF\xBF\xBD byte");
  EXPECT_EQ(read->cells[0].witnesses.at("wire.close"), "R\xEF\xBF\xBD");
  EXPECT_EQ(read->sysctls.count("net.core.\xEF\xBF\xBDkey"), 1u);
}

TEST(RecordJson, ReaderRefusesIllFormedUtf8) {
  std::string text = RecordToJson(SampleRecord());
  text.replace(text.find("6.18.0-test"), 1, "\xff");
  absl::StatusOr<Record> read = ParseRecordJson(text);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(read.status().message(), HasSubstr("malformed JSON"));
}

// What the hand-written writer before nlohmann-json produced (spaces after
// ':' and ',', "\u001f"-style escapes): it still reads.
TEST(RecordJson, ReadsTheEarlierWritersRecords) {
  const std::string old_text =
      "{\n  \"schema\": \"tcpsem-record/1\",\n  \"kernel\": {\"release\": "
      "\"6.1.0-56-cloud-amd64\", \"version\": \"#1 SMP\\u001f\"},\n"
      "  \"profile\": {\"name\": \"default\", \"sysctls\": "
      "{\"net.ipv4.tcp_ecn\": \"2\"}},\n  \"cells\": [\n"
      "    {\"name\": \"V4_Unread1_LingerOff_NoShutdown_PeerOpen\", "
      "\"family\": \"V4\", \"unread\": \"Unread1\", \"linger\": "
      "\"LingerOff\", \"shutdown\": \"NoShutdown\", \"peer\": \"PeerOpen\",\n"
      "     \"verdict\": \"pass\", \"mismatches\": [],\n"
      "     \"witnesses\": {\"wire.close\": \"RST\"},\n"
      "     \"expected\": {\"wire.close\": \"RST\"},\n"
      "     \"counters\": {\"after\": \"-\", \"close\": "
      "\"TCPAbortOnClose+1\", \"shutdown\": \"-\"},\n"
      "     \"bytes_sent_by_peer\": 1, \"unread_at_close\": 1, "
      "\"close_duration_us\": 12, \"reset_reasons_unavailable\": \"\"}\n"
      "  ]\n}\n";
  absl::StatusOr<Record> read = ParseRecordJson(old_text);
  ASSERT_OK(read);
  EXPECT_EQ(read->kernel_release, "6.1.0-56-cloud-amd64");
  EXPECT_EQ(read->kernel_version, "#1 SMP\x1f");
  ASSERT_EQ(read->cells.size(), 1u);
  EXPECT_EQ(read->cells[0].counters.at("close"), "TCPAbortOnClose+1");
  EXPECT_EQ(read->cells[0].close_duration_us, 12);
  // Version 1 kept no upstream version: it is resolved as a run would.
  EXPECT_EQ(read->kernel_upstream, "6.1.0");
  EXPECT_THAT(read->kernel_upstream_source,
              HasSubstr("uname -r: 6.1.0-56-cloud-amd64 (resolved when read"));
}

TEST(RecordJson, AVersion1RecordOfDebianGetsTheUpstreamVersion) {
  const std::string v1 = absl::StrCat(
      "{\"schema\": \"tcpsem-record/1\", \"kernel\": {\"release\": "
      "\"6.1.0-57-cloud-amd64\", \"version\": \"#1 SMP PREEMPT_DYNAMIC "
      "Debian 6.1.192-3 (2025-05-01)\"}, \"profile\": {\"name\": \"p\", "
      "\"sysctls\": {}}, \"cells\": []}");
  absl::StatusOr<Record> read = ParseRecordJson(v1);
  ASSERT_OK(read);
  EXPECT_EQ(read->kernel_upstream, "6.1.192");
  EXPECT_EQ(KernelHeadline(*read),
            "6.1.192 (from uname -v: Debian 6.1.192-3 (resolved when read: "
            "tcpsem-record/1 did not keep it)), release 6.1.0-57-cloud-amd64");
}

TEST(RecordJson, AVersion2RecordMustSayItsUpstreamVersion) {
  absl::StatusOr<Record> read = ParseRecordJson(
      "{\"schema\": \"tcpsem-record/2\", \"kernel\": {\"release\": \"r\", "
      "\"version\": \"v\"}, \"profile\": {\"name\": \"p\", \"sysctls\": "
      "{}}, \"cells\": []}");
  ASSERT_FALSE(read.ok());
  EXPECT_THAT(read.status().message(), HasSubstr("kernel.upstream"));
}

struct Malformed {
  const char* what;
  std::string text;
  const char* message;
};

std::string WithCell(const std::string& cell_fields) {
  return absl::StrCat(
      "{\"schema\": \"tcpsem-record/1\", \"kernel\": {\"release\": \"r\", "
      "\"version\": \"v\"}, \"profile\": {\"name\": \"p\", \"sysctls\": {}}, "
      "\"cells\": [",
      cell_fields, "]}");
}

std::string Cell(const std::string& name, const std::string& tail) {
  return absl::StrCat(
      "{\"name\": \"", name,
      "\", \"family\": \"V4\", \"unread\": \"Unread1\", \"linger\": \"L\", "
      "\"shutdown\": \"S\", \"peer\": \"P\", \"verdict\": \"pass\", "
      "\"mismatches\": [], \"witnesses\": {}, \"expected\": {}, "
      "\"counters\": {}, \"reset_reasons_unavailable\": \"\"",
      tail, "}");
}

const std::string kGoodNumbers =
    ", \"bytes_sent_by_peer\": 1, \"unread_at_close\": 1, "
    "\"close_duration_us\": 1";

TEST(RecordJson, ReaderRefusesMalformedInputInOneLine) {
  const Malformed cases[] = {
      {"empty", "", "malformed JSON"},
      {"not json", "this is not json", "malformed JSON"},
      {"truncated", WithCell(Cell("a", kGoodNumbers)).substr(0, 60),
       "malformed JSON"},
      {"trailing garbage", WithCell("") + " x", "malformed JSON"},
      {"trailing comma", WithCell(Cell("a", kGoodNumbers) + ","),
       "malformed JSON"},
      {"nul byte", std::string("{\"schema\"\0:1}", 13), "malformed JSON"},
      {"raw newline in string", "{\"schema\": \"tcpsem-\nrecord/1\"}",
       "malformed JSON"},
      {"bad escape", "{\"schema\": \"\\q\"}", "malformed JSON"},
      {"lone surrogate", "{\"schema\": \"\\ud800\"}", "malformed JSON"},
      {"top level array", "[]", "top level is an array"},
      {"no schema", "{\"cells\": []}", "no \"schema\" field"},
      {"wrong schema", "{\"schema\": \"other/2\"}",
       "schema is \"other/2\", expected"},
      {"schema a number", "{\"schema\": 1}", "schema is a number"},
      {"kernel missing", "{\"schema\": \"tcpsem-record/1\"}",
       "missing field kernel"},
      {"cells not array",
       "{\"schema\": \"tcpsem-record/1\", \"kernel\": {\"release\": \"r\", "
       "\"version\": \"v\"}, \"profile\": {\"name\": \"p\", \"sysctls\": {}}, "
       "\"cells\": {}}",
       "field cells is an object, expected an array"},
      {"cell not object", WithCell("1"), "cells[0] is a number"},
      {"missing number", WithCell(Cell("a", "")),
       "missing field cells[0].bytes_sent_by_peer"},
      {"fractional number",
       WithCell(Cell("a",
                     ", \"bytes_sent_by_peer\": 1.5, "
                     "\"unread_at_close\": 1, \"close_duration_us\": 1")),
       "cells[0].bytes_sent_by_peer is a number, expected an integer"},
      {"number beyond int64",
       WithCell(Cell("a",
                     ", \"bytes_sent_by_peer\": 18446744073709551615, "
                     "\"unread_at_close\": 1, \"close_duration_us\": 1")),
       "expected an integer"},
      {"witness not a string",
       WithCell(absl::StrCat(
           "{\"name\": \"a\", \"family\": \"V4\", \"unread\": \"U\", "
           "\"linger\": \"L\", \"shutdown\": \"S\", \"peer\": \"P\", "
           "\"verdict\": \"pass\", \"mismatches\": [], "
           "\"witnesses\": {\"wire.close\": 1}}")),
       "field cells[0].witnesses.wire.close is a number, expected a string"},
      {"mismatch not a string",
       WithCell("{\"name\": \"a\", \"family\": \"V4\", \"unread\": \"U\", "
                "\"linger\": \"L\", \"shutdown\": \"S\", \"peer\": \"P\", "
                "\"verdict\": \"pass\", \"mismatches\": [null]}"),
       "cells[0].mismatches holds a non-string element"},
      {"duplicate cell",
       WithCell(Cell("a", kGoodNumbers) + "," + Cell("a", kGoodNumbers)),
       "cell a appears twice"},
  };
  for (const Malformed& c : cases) {
    SCOPED_TRACE(c.what);
    absl::StatusOr<Record> read = ParseRecordJson(c.text);
    ASSERT_FALSE(read.ok());
    EXPECT_EQ(read.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(read.status().message(), HasSubstr("not a tcpsem record"));
    EXPECT_THAT(read.status().message(), HasSubstr(c.message));
    EXPECT_THAT(std::string(read.status().message()), Not(HasSubstr("\n")));
  }
  // The cases above differ only in what they break: the same text with
  // numbers is accepted.
  EXPECT_OK(ParseRecordJson(WithCell(Cell("a", kGoodNumbers))));
}

TEST(RecordJson, DeepNestingIsAnErrorNotACrash) {
  const std::string deep =
      absl::StrCat("{\"schema\": \"tcpsem-record/1\", \"kernel\": ",
                   std::string(200000, '['), std::string(200000, ']'), "}");
  absl::StatusOr<Record> read = ParseRecordJson(deep);
  ASSERT_FALSE(read.ok());
  EXPECT_THAT(read.status().message(),
              HasSubstr("field kernel is an array, expected an object"));
}

TEST(RecordJson, ParseRecordNamesTheSource) {
  absl::StatusOr<Record> read = ParseRecord("{", "old.json");
  ASSERT_FALSE(read.ok());
  EXPECT_THAT(std::string(read.status().message()),
              testing::StartsWith("old.json: not a tcpsem record: malformed"));
  absl::StatusOr<Record> good =
      ParseRecord(RecordToJson(SampleRecord()), "new.json");
  ASSERT_OK(good);
  EXPECT_EQ(good->source, "new.json");
  EXPECT_THAT(good->cells[0].mismatches,
              ElementsAre("wire.close", "peer.recv"));
}

}  // namespace
}  // namespace tcpsem
