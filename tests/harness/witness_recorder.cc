#include "tests/harness/witness_recorder.h"

#include "absl/strings/str_cat.h"
#include "fixtures/reports/scenario_record.h"

namespace tcpsem {

void WitnessRecorder::Begin(const std::string& test_name) {
  absl::MutexLock lock(&mutex_);
  recording_ = true;
  seen_.clear();
  cell_ = RecordCell();
  cell_.kind = kScenarioCell;
  cell_.name = test_name;
  cell_.suite = ScenarioSuiteOf(test_name);
}

bool WitnessRecorder::recording() const {
  absl::MutexLock lock(&mutex_);
  return recording_;
}

void WitnessRecorder::Observe(absl::string_view witness,
                              const std::string& expected,
                              const std::string& observed, bool agrees) {
  absl::MutexLock lock(&mutex_);
  if (!recording_) return;
  std::string key(witness);
  if (const int n = ++seen_[key]; n > 1) absl::StrAppend(&key, " #", n);
  cell_.witnesses[key] = observed;
  cell_.expected[key] = expected;
  if (!agrees) cell_.mismatches.push_back(key);
}

void WitnessRecorder::Unobservable(absl::string_view witness,
                                   absl::string_view why) {
  absl::MutexLock lock(&mutex_);
  if (!recording_) return;
  cell_.unobservable.emplace(std::string(witness), std::string(why));
}

void WitnessRecorder::SetLadder(std::string ladder) {
  absl::MutexLock lock(&mutex_);
  if (recording_) cell_.ladder = std::move(ladder);
}

RecordCell WitnessRecorder::End(const std::string& verdict) {
  absl::MutexLock lock(&mutex_);
  recording_ = false;
  RecordCell cell = std::move(cell_);
  cell_ = RecordCell();
  cell.verdict = verdict;
  return cell;
}

void WitnessRecorder::Discard() {
  absl::MutexLock lock(&mutex_);
  recording_ = false;
  cell_ = RecordCell();
}

WitnessRecorder& TestWitnesses() {
  static auto* recorder = new WitnessRecorder;
  return *recorder;
}

void WitnessRecordListener::OnTestEnd(const ::testing::TestInfo& info) {
  WitnessRecorder& recorder = TestWitnesses();
  if (!recorder.recording()) return;
  if (info.result()->Skipped()) {
    recorder.Discard();
    return;
  }
  ScenarioCellLog::Get().Add(
      recorder.End(info.result()->Failed() ? "fail" : "pass"));
}

}  // namespace tcpsem
