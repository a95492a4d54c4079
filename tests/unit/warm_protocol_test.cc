#include "fixtures/gtest/warm_protocol.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tcpsem::warm {
namespace {

using ::testing::ElementsAre;

Request Sample() {
  Request r;
  r.verb = "run";
  r.binary = "/build/tests/tcpsem_matrix";
  r.cwd = "/build/tests";
  r.argv = {"/build/tests/tcpsem_matrix", "--gtest_filter=A.B/V4", ""};
  r.env = {"TCPSEM_ARTIFACTS=/build/artifacts", "EMPTY="};
  return r;
}

TEST(WarmProtocolTest, RequestRoundTrips) {
  std::optional<Request> back = DecodeRequest(EncodeRequest(Sample()));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->verb, "run");
  EXPECT_EQ(back->binary, "/build/tests/tcpsem_matrix");
  EXPECT_EQ(back->cwd, "/build/tests");
  EXPECT_THAT(back->argv, ElementsAre("/build/tests/tcpsem_matrix",
                                      "--gtest_filter=A.B/V4", ""));
  EXPECT_THAT(back->env,
              ElementsAre("TCPSEM_ARTIFACTS=/build/artifacts", "EMPTY="));
}

TEST(WarmProtocolTest, RefusesWhatIsNotARequest) {
  const std::string good = EncodeRequest(Sample());
  EXPECT_FALSE(DecodeRequest("").has_value());
  EXPECT_FALSE(DecodeRequest(good.substr(0, good.size() - 1)).has_value())
      << "a last field without its NUL";
  std::string wrong_magic = good;
  wrong_magic[0] = 'x';
  EXPECT_FALSE(DecodeRequest(wrong_magic).has_value());
  EXPECT_FALSE(DecodeRequest(good + std::string("extra\0", 6)).has_value())
      << "fields after the environment";
  Request huge_count = Sample();
  std::string text = EncodeRequest(huge_count);
  const std::string argc_field = std::string(
      "\0"
      "3\0",
      3);
  const size_t at = text.find(argc_field);
  ASSERT_NE(at, std::string::npos);
  text.replace(at, argc_field.size(),
               std::string("\0"
                           "999\0",
                           5));
  EXPECT_FALSE(DecodeRequest(text).has_value())
      << "a count larger than the fields that follow";
  text = EncodeRequest(Sample());
  text.replace(text.find(argc_field), argc_field.size(),
               std::string("\0"
                           "3x\0",
                           4));
  EXPECT_FALSE(DecodeRequest(text).has_value()) << "a count that is no number";
}

}  // namespace
}  // namespace tcpsem::warm
