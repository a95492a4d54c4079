// The current scenario test's witnesses, for the run's record: every
// EXPECT_WITNESS / EXPECT_WITNESS_AT_LEAST, pass or fail, leaves the
// witness's name, what it observed and what was expected here, and
// when the test has ended (its verdict final, after TeardownTest::TearDown()
// and the leak checker) WitnessRecordListener turns them into one record
// cell of kind "scenario" (fixtures/reports/scenario_record.h). One
// recorder for the process, owned by the harness; data flows one way: test
// -> recorder -> ScenarioCellLog -> journal and record.
#pragma once

#include <map>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "fixtures/reports/record_json.h"
#include "gtest/gtest.h"

namespace tcpsem {

// The witness family the suites name the kernel's reset reasons by
// (EXPECT_WITNESS("reset reason", ...), "reset reason: from port"): what
// TeardownTest::PinnedResets() declares unobservable where it cannot judge
// them.
inline constexpr char kResetReasonWitness[] = "reset reason";

class WitnessRecorder {
 public:
  // Starts recording the test `test_name` ("Suite/Fixture.Test/Param"),
  // forgetting anything recorded before.
  void Begin(const std::string& test_name);
  // Whether a test is being recorded (between Begin() and End()).
  bool recording() const;

  // One witness judged: its name (a name seen again in the same test gets
  // " #2", " #3", so that two kernels' records compare position by
  // position), the expectation and the observation as the table prints
  // them, and whether they agreed. Ignored when nothing is being recorded.
  void Observe(absl::string_view witness, const std::string& expected,
               const std::string& observed, bool agrees);
  // A family of witnesses ("reset reason") this kernel cannot observe, and
  // why: the diff lists it, never as a change.
  void Unobservable(absl::string_view witness, absl::string_view why);

  // The connection as captured, drawn as a ladder (TeardownTest::TearDown()).
  void SetLadder(std::string ladder);

  // Ends the test: its cell with `verdict` ("pass" or "fail"). Recording
  // stops.
  RecordCell End(const std::string& verdict);
  // Stops recording without a cell (a skipped test, or one whose cells
  // are of another kind).
  void Discard();

 private:
  mutable absl::Mutex mutex_;
  bool recording_ ABSL_GUARDED_BY(mutex_) = false;
  RecordCell cell_ ABSL_GUARDED_BY(mutex_);
  std::map<std::string, int> seen_ ABSL_GUARDED_BY(mutex_);
};

// The process's recorder.
WitnessRecorder& TestWitnesses();

// Ends the recorder's test with gtest's final verdict: a cell in
// ScenarioCellLog, or nothing for a skipped test. Append it to the
// listeners after the journal's and before the leak checker's (gtest calls
// OnTestEnd in reverse order), so that the journal's line holds the cell
// and the cell's verdict counts the leak checker's failures.
class WitnessRecordListener : public ::testing::EmptyTestEventListener {
 public:
  void OnTestEnd(const ::testing::TestInfo& info) override;
};

}  // namespace tcpsem
