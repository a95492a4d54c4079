// Fuzzes the JSON record reader behind tcpsem_diff (ParseRecordJson, through
// nlohmann-json), and the diff of whatever it accepts.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fixtures/reports/record_diff.h"
#include "fixtures/reports/record_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view json(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<tcpsem::Record> record = tcpsem::ParseRecordJson(json);
  if (record.ok()) {
    (void)tcpsem::FormatDiff(*record, *record,
                             tcpsem::DiffRecords(*record, *record));
  }
  return 0;
}
