// Fuzzes the profile spec (--tcpsem_profile / TCPSEM_PROFILE): a shipped
// name, "default", or comma-separated sysctl.d files. Runs in a scratch
// directory holding a few profile files (the runner's cwd); specs naming
// absolute paths or "host" (which probes the host's namespace) are left out
// so the fuzzer reads nothing outside that directory and the shipped
// profiles.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/match.h"
#include "fixtures/config/run_profile.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string spec(reinterpret_cast<const char*>(data), size);
  if (spec == "host" || absl::StrContains(spec, "/") ||
      absl::StrContains(spec, "..") || spec.find('\0') != std::string::npos) {
    return 0;
  }
  absl::StatusOr<tcpsem::Profile> profile = tcpsem::LoadProfileSpec(spec);
  if (profile.ok()) (void)profile->Describe();
  return 0;
}
