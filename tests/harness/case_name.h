// The scenario suites' parameter names, one way for all: the address family,
// then what the case stages ("V6_WindowFull_CloseUnread"). The same text
// names the test (INSTANTIATE_TEST_SUITE_P's generator) and prints the
// parameter in gtest's messages. A case is either a Family alone or a
// struct with a `family` and a `Label()`:
//
//   struct Case {
//     Family family;
//     Holder holder;
//     std::string Label() const { return HolderName(holder); }
//   };
//   void PrintTo(const Case& c, std::ostream* os) { *os << CaseName(c); }
//   INSTANTIATE_TEST_SUITE_P(DataAfterClose, DataAfterCloseTest,
//                            ::testing::ValuesIn(AllCases()), CaseNamer());
#pragma once

#include <string>

#include "absl/strings/str_cat.h"
#include "fixtures/staging/socket_pair.h"
#include "gtest/gtest.h"

namespace tcpsem {

inline std::string CaseName(Family family) { return FamilyName(family); }

template <typename Case>
std::string CaseName(const Case& c) {
  return absl::StrCat(FamilyName(c.family), "_", c.Label());
}

// INSTANTIATE_TEST_SUITE_P's name generator for any case CaseName() takes.
struct CaseNamer {
  template <typename Case>
  std::string operator()(const ::testing::TestParamInfo<Case>& info) const {
    return CaseName(info.param);
  }
};

}  // namespace tcpsem
