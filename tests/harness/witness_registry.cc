#include "tests/harness/witness_registry.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace tcpsem {
namespace {

std::map<std::string, WitnessUses>& Registry() {
  static auto* registry = new std::map<std::string, WitnessUses>();
  return *registry;
}

}  // namespace

std::string WitnessName(Witness witness) {
  switch (witness) {
    case Witness::kWire:
      return "wire";
    case Witness::kPeerApi:
      return "peer_api";
    case Witness::kCounters:
      return "counters";
    case Witness::kSockDiag:
      return "sock_diag";
    case Witness::kResetReason:
      return "reset_reason";
  }
  return "?";
}

bool DeclareWitnesses(const std::string& fixture, WitnessUses uses) {
  Registry()[fixture] = std::move(uses);
  return true;
}

const WitnessUses* DeclaredWitnesses(const std::string& test_suite_name) {
  const size_t slash = test_suite_name.rfind('/');
  const std::string fixture = slash == std::string::npos
                                  ? test_suite_name
                                  : test_suite_name.substr(slash + 1);
  auto it = Registry().find(fixture);
  return it == Registry().end() ? nullptr : &it->second;
}

std::vector<std::string> DeclarationProblems(const WitnessUses& uses) {
  std::vector<std::string> problems;
  for (Witness witness : kAllWitnesses) {
    auto it = uses.find(witness);
    if (it == uses.end()) {
      problems.push_back(absl::StrCat(WitnessName(witness), ": not declared"));
    } else if (it->second != kAsked &&
               !(absl::StartsWith(it->second, kNotApplicable) &&
                 it->second.size() > 5) &&
               !(absl::StartsWith(it->second, kNotAskedYet) &&
                 it->second.size() > 14)) {
      problems.push_back(absl::StrCat(
          WitnessName(witness), ": '", it->second,
          "' is neither \"asked\", \"n/a: <why>\" nor \"not asked yet: "
          "<why>\""));
    }
  }
  return problems;
}

}  // namespace tcpsem
