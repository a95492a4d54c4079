// tcpsem_diff OLD.json NEW.json [--html=report.html]
//
// Compares two run records witness by witness and prints the changes grouped
// by pattern (witness, old value → new value). Exit status: 0 when the
// witnesses are identical, 1 when they differ, 2 on bad input.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "fixtures/reports/html_report.h"
#include "fixtures/reports/record_diff.h"

ABSL_FLAG(std::string, html, "",
          "also write a self-contained HTML diff report to this path");

namespace {

constexpr int kIdentical = 0;
constexpr int kDifferent = 1;
constexpr int kBadInput = 2;

constexpr char kUsage[] = "usage: tcpsem_diff OLD.json NEW.json [--html=PATH]";

int BadInput(const std::string& message) {
  std::fprintf(stderr, "tcpsem_diff: %s\n", message.c_str());
  return kBadInput;
}

// absl exits 1 on an unknown flag; check the command line first so that every
// bad invocation exits 2 with one line.
bool CheckArgs(int argc, char** argv, std::string* error) {
  int positional = 0;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") {
      positional += argc - i - 1;
      break;
    }
    if (arg.size() > 1 && arg[0] == '-') {
      if (absl::StartsWith(arg, "--html=") || absl::StartsWith(arg, "-html=")) {
        if (arg.substr(arg.find('=') + 1).empty()) {
          *error = "--html needs a path";
          return false;
        }
        continue;
      }
      if (arg == "--html" || arg == "-html") {
        if (i + 1 >= argc) {
          *error = "--html needs a path";
          return false;
        }
        ++i;
        continue;
      }
      *error = absl::StrCat("unknown flag ", arg, "; ", kUsage);
      return false;
    }
    ++positional;
  }
  if (positional != 2) {
    *error = absl::StrCat("expected two record files, got ", positional, "; ",
                          kUsage);
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(kUsage);
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0 ||
        std::strcmp(argv[i], "-h") == 0) {
      std::printf("%s\n", kUsage);
      return kIdentical;
    }
  }
  std::string error;
  if (!CheckArgs(argc, argv, &error)) return BadInput(error);
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() != 3) return BadInput(kUsage);

  absl::StatusOr<tcpsem::Record> old_record = tcpsem::ReadRecordFile(args[1]);
  if (!old_record.ok())
    return BadInput(std::string(old_record.status().message()));
  absl::StatusOr<tcpsem::Record> new_record = tcpsem::ReadRecordFile(args[2]);
  if (!new_record.ok())
    return BadInput(std::string(new_record.status().message()));

  tcpsem::RecordDiff diff = tcpsem::DiffRecords(*old_record, *new_record);
  std::fputs(tcpsem::FormatDiff(*old_record, *new_record, diff).c_str(),
             stdout);

  std::string html = absl::GetFlag(FLAGS_html);
  if (!html.empty()) {
    absl::Status written =
        tcpsem::WriteHtmlDiffReport(html, *old_record, *new_record);
    if (!written.ok()) return BadInput(std::string(written.message()));
    std::printf("\nHTML report: %s\n", html.c_str());
  }
  return diff.Identical() ? kIdentical : kDifferent;
}
