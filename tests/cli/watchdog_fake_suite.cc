// A stand-in suite for tools/tcpsem_run's check (watchdog_check.sh): tests
// that pass, fail, skip, hang and crash on demand, with the progress journal
// of the real suite. Hanging and crashing only happen with
// TCPSEM_FAKE_MISBEHAVE=1 in the environment, so that running the binary by
// hand (or ctest discovering it) never hangs.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/flags/parse.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fixtures/gtest/progress_journal.h"
#include "gtest/gtest.h"

namespace {

bool Misbehave() {
  const char* env = std::getenv("TCPSEM_FAKE_MISBEHAVE");
  return env != nullptr && std::string(env) == "1";
}

TEST(Fake, Passes) { EXPECT_EQ(1 + 1, 2); }
TEST(Fake, Fails) { EXPECT_EQ(1 + 1, 3) << "fails on purpose"; }
TEST(Fake, Skips) { GTEST_SKIP() << "skips on purpose"; }
// TCPSEM_FAKE_SLOW_RESTART=<file>: Fake.Hangs creates the file, and the
// next process started (the one re-executed past the hang) removes it and
// waits TCPSEM_FAKE_SLOW_RESTART_MS (default 3000) before its first test, as
// a suite process starts on a loaded machine. The check makes that longer
// than the per-test bound.
const char* SlowRestartMarker() {
  return std::getenv("TCPSEM_FAKE_SLOW_RESTART");
}
int SlowRestartMilliseconds() {
  const char* env = std::getenv("TCPSEM_FAKE_SLOW_RESTART_MS");
  return env != nullptr ? std::atoi(env) : 3000;
}

TEST(Fake, Hangs) {
  if (!Misbehave()) GTEST_SKIP() << "hangs only with TCPSEM_FAKE_MISBEHAVE=1";
  if (const char* marker = SlowRestartMarker(); marker != nullptr) {
    std::fclose(std::fopen(marker, "w"));
  }
  while (true) ::pause();  // blocked for good: the watchdog's case
}
TEST(Fake, PassesAfterTheHang) { EXPECT_TRUE(true); }
TEST(Fake, Crashes) {
  if (!Misbehave()) GTEST_SKIP() << "crashes only with TCPSEM_FAKE_MISBEHAVE=1";
  std::abort();
}
TEST(Fake, PassesAfterTheCrash) { EXPECT_TRUE(true); }

}  // namespace

int main(int argc, char** argv) {
  if (const char* marker = SlowRestartMarker();
      marker != nullptr && ::unlink(marker) == 0) {
    absl::SleepFor(absl::Milliseconds(SlowRestartMilliseconds()));
  }
  ::testing::InitGoogleTest(&argc, argv);
  absl::ParseCommandLine(argc, argv);
  if (const std::string journal = tcpsem::JournalDestination();
      !journal.empty()) {
    absl::StatusOr<tcpsem::ProgressJournalListener*> listener =
        tcpsem::ProgressJournalListener::Create(journal, tcpsem::RunContext{});
    if (!listener.ok()) return 2;
    ::testing::UnitTest::GetInstance()->listeners().Append(*listener);
  }
  return RUN_ALL_TESTS();
}
