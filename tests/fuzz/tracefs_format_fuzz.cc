// Fuzzes the tracefs format-file parsers of the reset-reason witness (the
// format text of tcp:tcp_send_reset and its __print_symbolic lists).
#include <cstddef>
#include <cstdint>
#include <string>

#include "fixtures/witnesses/reset_reason.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string format(reinterpret_cast<const char*>(data), size);
  (void)tcpsem::ParseResetReasonNames(format);
  (void)tcpsem::ParseSymbolicList(format, "REC->state");
  (void)tcpsem::ParseSymbolicList(format, "REC->reason");
  (void)tcpsem::FormatHasField(format, "reason");
  return 0;
}
