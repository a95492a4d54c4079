// The sysctl side of tcpsem for scripts and cleanup steps:
//   tcpsem_sysctl --global-keys   the keys tcpsem treats as global, one a line
//   tcpsem_sysctl --global-keys=FILE[,FILE...]   those a profile sets
//   tcpsem_sysctl --restore [--dir=DIR] [--proc-sys=DIR]
//       puts back host-wide sysctls a killed run left changed, from the
//       restore records in DIR (default $TCPSEM_RESTORE_DIR or /run/tcpsem),
//       refusing every record another user could have made or changed.
// Exit status: 0 done, 1 a record or the directory refused or a write
// failed (one line each on stderr; nothing applied when anything is
// refused), 2 usage.
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "fixtures/config/sysctl/global_keys.h"
#include "fixtures/config/sysctl/profile.h"
#include "fixtures/config/sysctl/restore_records.h"
#include "fixtures/config/sysctl/sysctl_d.h"

namespace {

constexpr char kUsage[] =
    "usage: tcpsem_sysctl --global-keys[=FILE,...] | --restore [--dir=DIR] "
    "[--proc-sys=DIR]";

int Restore(const tcpsem::ReplayOptions& options) {
  absl::StatusOr<tcpsem::ReplayResult> result =
      tcpsem::ReplayRestoreRecords(options);
  if (!result.ok()) {
    std::cerr << "tcpsem: refused " << result.status().message() << "\n";
    return 1;
  }
  for (const std::string& line : result->refused) {
    std::cerr << "tcpsem: refused " << line << "\n";
  }
  for (const std::string& line : result->left) {
    std::cout << "tcpsem: left " << line << "\n";
  }
  for (const std::string& line : result->restored) {
    std::cout << "tcpsem: restored " << line << "\n";
  }
  for (const std::string& line : result->failed) {
    std::cerr << "tcpsem: FAILED " << line << "\n";
  }
  return result->refused.empty() && result->failed.empty() ? 0 : 1;
}

// The keys on the global list that the profile `files` set, one a line.
int ProfileGlobals(const std::vector<std::string>& files) {
  absl::StatusOr<tcpsem::Profile> profile =
      tcpsem::LoadProfile("profile", files);
  if (!profile.ok()) {
    std::cerr << "tcpsem: " << profile.status().message() << "\n";
    return 2;
  }
  for (const auto& [key, setting] : profile->settings) {
    if (tcpsem::FindKnownGlobal(key) != nullptr) std::cout << key << "\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  bool global_keys = false;
  std::vector<std::string> profile_files;
  bool restore = false;
  tcpsem::ReplayOptions options{.dir = tcpsem::RestoreRecordDir()};
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--global-keys") {
      global_keys = true;
    } else if (absl::ConsumePrefix(&arg, "--global-keys=") && !arg.empty()) {
      global_keys = true;
      profile_files = absl::StrSplit(arg, ',');
    } else if (arg == "--restore") {
      restore = true;
    } else if (absl::ConsumePrefix(&arg, "--dir=") && !arg.empty()) {
      options.dir = std::string(arg);
    } else if (absl::ConsumePrefix(&arg, "--proc-sys=") && !arg.empty()) {
      options.proc_sys = std::string(arg);
    } else {
      std::cerr << kUsage << "; unknown argument '" << argv[i] << "'\n";
      return 2;
    }
  }
  if (global_keys == restore) {
    std::cerr << kUsage << "\n";
    return 2;
  }
  if (global_keys && !profile_files.empty())
    return ProfileGlobals(profile_files);
  if (global_keys) {
    for (const tcpsem::KnownGlobalSysctl& known :
         tcpsem::KnownGlobalSysctls()) {
      std::cout << known.key << "\n";
    }
    return 0;
  }
  return Restore(options);
}
