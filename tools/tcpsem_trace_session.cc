// Opens or removes the trace session a whole ctest run shares for the
// reset-reason witness (see ResetReasonWatch::OpenSession), so no test pays
// for creating and removing a trace instance of its own.
//   tcpsem_trace_session open NAME | close NAME
// Where tracefs cannot be used (no privilege, no tracepoint) `open` says so
// and succeeds: the tests then report that witness as unavailable.
#include <sys/stat.h>

#include <iostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "fixtures/witnesses/reset_reason.h"

int main(int argc, char** argv) {
  const std::string verb = argc == 3 ? argv[1] : "";
  if (verb != "open" && verb != "close") {
    std::cerr << "usage: tcpsem_trace_session open|close NAME\n";
    return 2;
  }
  const std::string name = argv[2];
  if (verb == "open") {
    absl::StatusOr<std::string> dir =
        tcpsem::ResetReasonWatch::OpenSession(name);
    if (!dir.ok()) {
      std::cout << "trace session not opened (" << dir.status().message()
                << "): tests report the reset-reason witness unavailable\n";
      return 0;
    }
    std::cout << "trace session " << *dir << "\n";
    return 0;
  }
  absl::StatusOr<std::string> dir = tcpsem::ResetReasonWatch::SessionDir(name);
  if (!dir.ok()) return 0;  // no tracefs: nothing was opened
  // Closing is idempotent: `ctest --repeat` runs this cleanup more than once.
  struct stat st;
  if (::stat(dir->c_str(), &st) != 0) {
    std::cout << "trace session " << *dir << " not open (already removed)\n";
    return 0;
  }
  if (absl::Status s = tcpsem::ResetReasonWatch::RemoveSessionPool(
          *dir, tcpsem::ResetReasonWatch::kRunSessionPool);
      !s.ok()) {
    std::cerr << "tcpsem_trace_session: " << s.message() << "\n";
    return 1;
  }
  std::cout << "trace session " << *dir << " removed, with its pool\n";
  return 0;
}
