#include "fixtures/reports/html_report.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tcpsem {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

RecordCell Cell(const std::string& linger, const std::string& shutdown,
                const std::string& wire_shutdown,
                const std::string& wire_close) {
  RecordCell c;
  c.family = "V4";
  c.unread = "Unread1";
  c.linger = linger;
  c.shutdown = shutdown;
  c.peer = "PeerOpen";
  c.name = absl::StrCat("V4_Unread1_", linger, "_", shutdown, "_PeerOpen");
  c.verdict = "pass";
  c.witnesses = {{"wire.shutdown", wire_shutdown}, {"wire.close", wire_close}};
  c.expected = c.witnesses;
  return c;
}

Record Sample() {
  Record r;
  r.source = "a.json";
  r.kernel_release = "6.18.0";
  r.profile = "default";
  r.sysctls = {{"net.ipv4.tcp_rmem", "4096 131072 6291456"}};
  r.cells = {Cell("LingerOff", "NoShutdown", "-", "FIN"),
             Cell("LingerOff", "ShutWr", "FIN", "RST"),
             Cell("Linger0s", "NoShutdown", "-", "RST"),
             Cell("Linger0s", "ShutWr", "-", "-")};
  return r;
}

TEST(TeardownOutcome, Classifies) {
  EXPECT_EQ(TeardownOutcome(Cell("a", "b", "-", "FIN")), "FIN");
  EXPECT_EQ(TeardownOutcome(Cell("a", "b", "-", "RST")), "RST");
  EXPECT_EQ(TeardownOutcome(Cell("a", "b", "FIN", "RST")), "FIN+RST");
  EXPECT_EQ(TeardownOutcome(Cell("a", "b", "-", "FIN,RST")), "FIN+RST");
  EXPECT_EQ(TeardownOutcome(Cell("a", "b", "-", "-")), "none");
  EXPECT_EQ(TeardownOutcome(RecordCell{}), "?");
}

TEST(HtmlReport, SelfContainedGridWithLegend) {
  std::string html = HtmlReport(Sample());
  EXPECT_FALSE(absl::StrContains(html, "http://"));
  EXPECT_FALSE(absl::StrContains(html, "https://"));
  EXPECT_FALSE(absl::StrContains(html, "<script src"));
  EXPECT_FALSE(absl::StrContains(html, "<link"));
  EXPECT_THAT(html, HasSubstr("class=\"legend\""));
  EXPECT_THAT(html, HasSubstr("o-finrst"));
  EXPECT_THAT(html, HasSubstr("<details>"));
  EXPECT_THAT(html, HasSubstr("V4_Unread1_Linger0s_ShutWr_PeerOpen"));
  EXPECT_THAT(html, Not(HasSubstr("class=\"cell o-fin changed\"")));
}

TEST(HtmlReport, EscapesText) {
  Record r = Sample();
  r.kernel_version = "<script>alert(1)</script>";
  std::string html = HtmlReport(r);
  EXPECT_THAT(html, Not(HasSubstr("<script>alert")));
  EXPECT_THAT(html, HasSubstr("&lt;script&gt;"));
}

TEST(HtmlDiffReport, MarksChangedCells) {
  Record old_record = Sample();
  Record new_record = Sample();
  new_record.source = "b.json";
  new_record.cells[0].witnesses["wire.close"] = "RST";
  std::string html = HtmlDiffReport(old_record, new_record);
  EXPECT_FALSE(absl::StrContains(html, "http://"));
  EXPECT_FALSE(absl::StrContains(html, "https://"));
  EXPECT_THAT(html, HasSubstr("class=\"cell o-rst changed\""));
  EXPECT_THAT(html, HasSubstr("<span class=\"mark\">changed</span>"));
  EXPECT_THAT(html, HasSubstr("FIN → RST"));
  // Exactly one changed cell.
  size_t first = html.find(" changed\"");
  ASSERT_NE(first, std::string::npos);
  EXPECT_EQ(html.find(" changed\"", first + 1), std::string::npos);
}

TEST(HtmlDiffReport, IdenticalHasNoChangedCells) {
  std::string html = HtmlDiffReport(Sample(), Sample());
  EXPECT_THAT(html, HasSubstr("witnesses identical"));
  EXPECT_THAT(html, Not(HasSubstr(" changed\"")));
}

TEST(HtmlReport, WriteFailsOnBadPath) {
  absl::Status s = WriteHtmlReport("/nonexistent/dir/report.html", Sample());
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("/nonexistent/dir/report.html"));
}

}  // namespace
}  // namespace tcpsem
