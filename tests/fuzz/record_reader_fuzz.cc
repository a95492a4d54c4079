// Fuzzes the JSON record reader behind tcpsem_diff, against its CURRENT API
// (ParseRecord in fixtures/reports/record_reader.h). When the nlohmann-json
// reader lands (ParseRecordJson(std::string_view) in
// fixtures/reports/record_json.h), re-point this one call.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fixtures/reports/record_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string json(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<tcpsem::Record> record = tcpsem::ParseRecord(json, "fuzz");
  if (record.ok()) {
    (void)tcpsem::FormatDiff(*record, *record,
                             tcpsem::DiffRecords(*record, *record));
  }
  return 0;
}
