// Fuzzes the trace-line parser of the reset-reason witness (one line of a
// trace instance's `trace` text, both layouts).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fixtures/witnesses/reset_reason.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<std::string> kNames = {
      "NOT_SPECIFIED",    "NO_SOCKET",       "TCP_INVALID_ACK_SEQUENCE",
      "TCP_RFC7323_PAWS", "TCP_TOO_OLD_ACK", "TCP_ACK_UNSENT_DATA"};
  const std::string line(reinterpret_cast<const char*>(data), size);
  (void)tcpsem::ParseResetEventLine(line, kNames);
  (void)tcpsem::ParseResetEventLine(line, {});
  return 0;
}
