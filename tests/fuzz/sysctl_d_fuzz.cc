// Fuzzes the sysctl.d parser (profile files and restore records are both
// read with it) and the key/value helpers it leans on.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "fixtures/config/sysctl_profile.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  tcpsem::Profile profile;
  profile.name = "fuzz";
  if (tcpsem::ParseSysctlText("fuzz.conf", text, profile).ok()) {
    for (const auto& [key, setting] : profile.settings) {
      // A parsed key names its own path, and back.
      if (tcpsem::SysctlPathToKey(tcpsem::SysctlKeyToPath(key)) != key) {
        std::abort();
      }
      // A value equals its own normalised form.
      if (!tcpsem::SysctlValuesEqual(
              setting.value, tcpsem::NormalizeSysctlValue(setting.value))) {
        std::abort();
      }
    }
    (void)profile.Describe();
  }
  (void)tcpsem::SysctlValuesEqual(text, text.substr(0, text.size() / 2));
  return 0;
}
