// Which witnesses each scenario suite asks. Every suite declares all five,
// each "asked", "n/a: <why it cannot apply>" or "not asked yet: <why>" (a
// witness that could apply but the suite does not consult yet: open work,
// shown in every test's properties, never hidden), so a witness is never
// left out by omission: TeardownTest records the declaration as test
// properties (witness.<name>) and fails a test whose suite declares none,
// and WitnessRegistryTest checks every suite in the binary.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace tcpsem {

enum class Witness { kWire, kPeerApi, kCounters, kSockDiag, kResetReason };
inline constexpr Witness kAllWitnesses[] = {
    Witness::kWire, Witness::kPeerApi, Witness::kCounters, Witness::kSockDiag,
    Witness::kResetReason};
// "wire", "peer_api", "counters", "sock_diag", "reset_reason".
std::string WitnessName(Witness witness);

inline constexpr char kAsked[] = "asked";
inline constexpr char kNotApplicable[] = "n/a: ";
inline constexpr char kNotAskedYet[] = "not asked yet: ";
using WitnessUses = std::map<Witness, std::string>;

// Declares the uses of the suite whose fixture class is `fixture`; returns
// true (for a static initialiser).
bool DeclareWitnesses(const std::string& fixture, WitnessUses uses);
// The declaration of the suite gtest names `test_suite_name`
// ("LastReference/LastReferenceTest" or "LastReferenceTest"); null if none.
const WitnessUses* DeclaredWitnesses(const std::string& test_suite_name);
// What is wrong with `uses`: a witness missing, or a use that is neither
// "asked", "n/a: " nor "not asked yet: " with a reason. Empty when complete.
std::vector<std::string> DeclarationProblems(const WitnessUses& uses);

}  // namespace tcpsem

// At namespace scope in a suite's file, after its fixture:
//   TCPSEM_DECLARE_WITNESSES(LastReferenceTest,
//                            {{Witness::kWire, kAsked}, ...});
#define TCPSEM_DECLARE_WITNESSES(fixture, ...)                      \
  [[maybe_unused]] static const bool fixture##_declares_witnesses = \
      ::tcpsem::DeclareWitnesses(#fixture, __VA_ARGS__)
