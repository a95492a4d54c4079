// The scenario tests' recorder (tests/harness/witness_recorder.h): what an
// EXPECT_WITNESS leaves in the test's record cell, pass or fail.
#include "tests/harness/witness_recorder.h"

#include "fixtures/reports/scenario_record.h"
#include "gmock/gmock.h"
#include "gtest/gtest-spi.h"
#include "gtest/gtest.h"
#include "tests/harness/expect_witness.h"

namespace tcpsem {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;

TEST(WitnessRecorder, KeepsEveryWitnessPassOrFailWithItsExpectation) {
  WitnessRecorder recorder;
  recorder.Begin("LastReference/LastReferenceTest.LastClose/V4_Unread");
  EXPECT_TRUE(recorder.recording());
  recorder.Observe("wire: last close emits", "RST", "RST", true);
  recorder.Observe("counters: TCPAbortOnClose", "1", "0", false);
  recorder.SetLadder("phase ...\n");
  const RecordCell cell = recorder.End("fail");
  EXPECT_FALSE(recorder.recording());
  EXPECT_EQ(cell.kind, kScenarioCell);
  EXPECT_EQ(cell.name, "LastReference/LastReferenceTest.LastClose/V4_Unread");
  EXPECT_EQ(cell.suite, "LastReference");
  EXPECT_EQ(cell.verdict, "fail");
  EXPECT_THAT(cell.witnesses,
              ElementsAre(Pair("counters: TCPAbortOnClose", "0"),
                          Pair("wire: last close emits", "RST")));
  EXPECT_THAT(cell.expected,
              ElementsAre(Pair("counters: TCPAbortOnClose", "1"),
                          Pair("wire: last close emits", "RST")));
  EXPECT_THAT(cell.mismatches, ElementsAre("counters: TCPAbortOnClose"));
  EXPECT_EQ(cell.ladder, "phase ...\n");
}

TEST(WitnessRecorder, ARepeatedNameIsNumberedInOrder) {
  WitnessRecorder recorder;
  recorder.Begin("S/F.T/V4");
  recorder.Observe("reset reason", "A", "A", true);
  recorder.Observe("reset reason", "B", "B", true);
  recorder.Observe("reset reason", "C", "D", false);
  const RecordCell cell = recorder.End("fail");
  EXPECT_THAT(cell.witnesses, ElementsAre(Pair("reset reason", "A"),
                                          Pair("reset reason #2", "B"),
                                          Pair("reset reason #3", "D")));
  EXPECT_THAT(cell.mismatches, ElementsAre("reset reason #3"));
}

TEST(WitnessRecorder, NothingIsKeptOutsideATestOrAfterDiscard) {
  WitnessRecorder recorder;
  recorder.Observe("wire", "FIN", "FIN", true);  // not recording: ignored
  recorder.Unobservable("reset reason", "why");
  recorder.Begin("S/F.T/V4");
  recorder.Observe("peer: recv", "EOF", "EOF", true);
  recorder.Discard();
  EXPECT_FALSE(recorder.recording());
  recorder.Begin("S/F.U/V4");  // a new test starts from nothing
  recorder.Unobservable("reset reason", "no reason field");
  const RecordCell cell = recorder.End("pass");
  EXPECT_THAT(cell.witnesses, IsEmpty());
  EXPECT_THAT(cell.unobservable,
              ElementsAre(Pair("reset reason", "no reason field")));
}

// The macros the suites call record through the process's recorder.
TEST(WitnessRecorder, ExpectWitnessRecordsIntoTheCurrentTest) {
  TestWitnesses().Begin("S/F.T/V6");
  EXPECT_TRUE(EXPECT_WITNESS("wire: close emits", "RST", "RST", "[r1]"));
  EXPECT_NONFATAL_FAILURE(
      EXPECT_WITNESS("peer: recv", "ECONNRESET", "EOF", "\n  rule [r2]: x"),
      "a witness disagrees with the rule");
  EXPECT_NONFATAL_FAILURE(
      EXPECT_WITNESS_AT_LEAST("counters: PruneCalled", 1, 0, "[r3]"),
      "at least 1");
  EXPECT_TRUE(
      EXPECT_WITNESS_AT_LEAST("counters: TCPRcvCollapsed", 1, 129, "[r4]"));
  const RecordCell cell = TestWitnesses().End("fail");
  // A bound is recorded as a relation, the count beside it.
  EXPECT_THAT(
      cell.witnesses,
      ElementsAre(Pair("counters: PruneCalled", "broken: observed 0"),
                  Pair("counters: TCPRcvCollapsed", "holds"),
                  Pair("peer: recv", "EOF"), Pair("wire: close emits", "RST")));
  EXPECT_THAT(
      cell.expected,
      ElementsAre(
          Pair("counters: PruneCalled", "at least 1 (observed 0)"),
          Pair("counters: TCPRcvCollapsed", "at least 1 (observed 129)"),
          Pair("peer: recv", "ECONNRESET"), Pair("wire: close emits", "RST")));
  EXPECT_THAT(cell.mismatches,
              ElementsAre("peer: recv", "counters: PruneCalled"));
}

// A run-computed expectation (a port, a sequence number): the record keeps
// whether the relation held, not the run's numbers.
TEST(WitnessRecorder, ARelationIsRecordedAsHoldingOrBroken) {
  TestWitnesses().Begin("S/F.T/V4");
  EXPECT_TRUE(EXPECT_WITNESS_RELATION("wire: RST seq = the data's ACK",
                                      int64_t{3141592}, int64_t{3141592},
                                      "[r]"));
  EXPECT_NONFATAL_FAILURE(
      EXPECT_WITNESS_RELATION("peer: bytes read", 4344, 2896, "[r]"),
      "a witness disagrees with the rule");
  const RecordCell cell = TestWitnesses().End("fail");
  EXPECT_THAT(cell.witnesses,
              ElementsAre(Pair("peer: bytes read", "broken: observed 2896"),
                          Pair("wire: RST seq = the data's ACK", "holds")));
  EXPECT_THAT(cell.expected,
              ElementsAre(Pair("peer: bytes read", "4344"),
                          Pair("wire: RST seq = the data's ACK", "3141592")));
  EXPECT_THAT(cell.mismatches, ElementsAre("peer: bytes read"));
}

TEST(ScenarioRecord, SuiteAndUnobservableFamilies) {
  EXPECT_EQ(ScenarioSuiteOf("PeerView/PeerViewTest.Poll/V4"), "PeerView");
  EXPECT_EQ(ScenarioSuiteOf("PeerViewTest.Poll"), "PeerViewTest");
  EXPECT_TRUE(UnobservableKeyCovers("reset reason", "reset reason"));
  EXPECT_TRUE(UnobservableKeyCovers("reset reason", "reset reason: from port"));
  EXPECT_TRUE(UnobservableKeyCovers("reset reason", "reset reason #2"));
  EXPECT_FALSE(UnobservableKeyCovers("reset reason", "reset reasons"));
  EXPECT_FALSE(UnobservableKeyCovers("reset reason", "wire: reset reason"));
}

}  // namespace
}  // namespace tcpsem
