#include "tests/harness/expect_witness.h"

#include "absl/strings/str_cat.h"
#include "fixtures/reports/failure_report.h"
#include "gtest/gtest.h"
#include "tests/harness/witness_recorder.h"

namespace tcpsem {

namespace {

// What the record keeps of a relation that held.
constexpr char kRelationHolds[] = "holds";

void Disagrees(absl::string_view witness, const std::string& expected,
               const std::string& observed, const std::string& cited,
               const char* file, int line) {
  // Cite() reads "\n  rule [<id>]: ..."; the id alone goes in the table.
  std::string id = cited;
  if (size_t open = cited.find('['), close = cited.find(']');
      open != std::string::npos && close != std::string::npos && open < close) {
    id = cited.substr(open + 1, close - open - 1);
  }
  ADD_FAILURE_AT(file, line)
      << "a witness disagrees with the rule\n"
      << WitnessTable({{std::string(witness), expected, observed, id}})
      << cited;
}

}  // namespace

bool ExpectWitness(absl::string_view witness, const std::string& expected,
                   const std::string& observed, const std::string& cited,
                   const char* file, int line) {
  const bool agrees = expected == observed;
  TestWitnesses().Observe(witness, expected, observed, agrees);
  if (agrees) return true;
  Disagrees(witness, expected, observed, cited, file, line);
  return false;
}

bool ExpectWitnessRelation(absl::string_view witness,
                           const std::string& expected,
                           const std::string& observed,
                           const std::string& cited, const char* file,
                           int line) {
  const bool agrees = expected == observed;
  TestWitnesses().Observe(
      witness, expected,
      agrees ? kRelationHolds : absl::StrCat("broken: observed ", observed),
      agrees);
  if (agrees) return true;
  Disagrees(witness, expected, observed, cited, file, line);
  return false;
}

bool ExpectWitnessAtLeast(absl::string_view witness, int64_t minimum,
                          int64_t observed, const std::string& cited,
                          const char* file, int line) {
  const std::string expected = absl::StrCat("at least ", minimum);
  const bool agrees = observed >= minimum;
  // How far above the bound a count lands depends on the staging (how many
  // prunes a full queue took), so the record compares whether the bound
  // held; the count stays readable beside the bound.
  TestWitnesses().Observe(
      witness, absl::StrCat(expected, " (observed ", observed, ")"),
      agrees ? kRelationHolds : absl::StrCat("broken: observed ", observed),
      agrees);
  if (agrees) return true;
  Disagrees(witness, expected, absl::StrCat(observed), cited, file, line);
  return false;
}

}  // namespace tcpsem
