// The scenario suites' expectations, failing the way the matrix does: one
// row of the witness table (witness, expected, observed, rule) with the
// rule cited beneath, instead of a gtest expression. Pass or fail, each
// also goes to the test's record cell (witness_recorder.h).
#pragma once

#include <cstdint>
#include <string>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace tcpsem {

// How a value reads in the table.
template <typename T>
std::string WitnessText(const T& value) {
  if constexpr (std::is_same_v<T, bool>) {
    return value ? "true" : "false";
  } else {
    return absl::StrCat(value);
  }
}

// Adds a failure at `file`:`line` when `expected` != `observed`. `cited` is
// Cite(id)'s text; its id fills the rule column. Returns whether they agree.
bool ExpectWitness(absl::string_view witness, const std::string& expected,
                   const std::string& observed, const std::string& cited,
                   const char* file, int line);

// The same where the expectation is computed from this run (a port, an
// absolute or relative sequence number, a byte count that depends on how
// much the staging wrote): it fails as ExpectWitness does, but the record
// keeps whether the relation held ("holds", or "broken: observed X"), with
// the run's expected value beside it, not the run's numbers as the
// observation, so two runs or two kernels compare.
bool ExpectWitnessRelation(absl::string_view witness,
                           const std::string& expected,
                           const std::string& observed,
                           const std::string& cited, const char* file,
                           int line);

// The same where the rule bounds the value from below ("at least 1"):
// `minimum` <= `observed`. Recorded as a relation, the count beside the
// bound ("at least 1 (observed 13)").
bool ExpectWitnessAtLeast(absl::string_view witness, int64_t minimum,
                          int64_t observed, const std::string& cited,
                          const char* file, int line);

}  // namespace tcpsem

// EXPECT_WITNESS("wire: close() emits", "RST", o.CloserEmitted(...), rule)
#define EXPECT_WITNESS(witness, expected, observed, cited)                    \
  ::tcpsem::ExpectWitness((witness), ::tcpsem::WitnessText(expected),         \
                          ::tcpsem::WitnessText(observed), (cited), __FILE__, \
                          __LINE__)

// EXPECT_WITNESS_RELATION("wire: FIN's sequence number", 1 + written, seq,
//                         rule)
#define EXPECT_WITNESS_RELATION(witness, expected, observed, cited)           \
  ::tcpsem::ExpectWitnessRelation((witness), ::tcpsem::WitnessText(expected), \
                                  ::tcpsem::WitnessText(observed), (cited),   \
                                  __FILE__, __LINE__)

// EXPECT_WITNESS_AT_LEAST("counters: PruneCalled", 1, moved, rule)
#define EXPECT_WITNESS_AT_LEAST(witness, minimum, observed, cited)          \
  ::tcpsem::ExpectWitnessAtLeast((witness), (minimum), (observed), (cited), \
                                 __FILE__, __LINE__)
