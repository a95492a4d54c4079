#include "tests/harness/expect_witness.h"

#include "fixtures/reports/failure_report.h"
#include "gtest/gtest.h"

namespace tcpsem {

bool ExpectWitness(absl::string_view witness, const std::string& expected,
                   const std::string& observed, const std::string& cited,
                   const char* file, int line) {
  if (expected == observed) return true;
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
  return false;
}

}  // namespace tcpsem
