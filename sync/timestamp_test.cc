#include "sync/timestamp.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace noxsync {
namespace {

TEST(Timestamp, ParsesRfc3339WithZonesAndFractions) {
  int64_t us = 0;
  ASSERT_TRUE(ParseTimestamp("2026-03-20T14:32:00Z", &us));
  EXPECT_EQ(us, 1774017120LL * 1000000);
  int64_t with_offset = 0;
  ASSERT_TRUE(ParseTimestamp("2026-03-20T16:32:00+02:00", &with_offset));
  EXPECT_EQ(with_offset, us);
  ASSERT_TRUE(ParseTimestamp("2026-03-20T14:32:00.25Z", &with_offset));
  EXPECT_EQ(with_offset, us + 250000);
  ASSERT_TRUE(ParseTimestamp("1969-12-31T23:59:59Z", &with_offset));
  EXPECT_EQ(with_offset, -1000000);
  ASSERT_TRUE(ParseTimestamp("2026-03-20", &with_offset));
  EXPECT_EQ(with_offset, 1773964800LL * 1000000);
}

TEST(Timestamp, RejectsWhatIsNotRfc3339) {
  int64_t us = 0;
  for (const char* bad : {"", "2026-03-20T14:32:00", "2026-13-01T00:00:00Z", "2026-02-29T00:00:00Z",
                          "2026-03-20T25:00:00Z", "20260320T143200Z", "2026-03-20T14:32:00Zjunk",
                          "2026-03-20T14:32:00.Z", "2026-03-20T14:32:00+0200"}) {
    EXPECT_FALSE(ParseTimestamp(bad, &us)) << bad;
  }
}

TEST(Timestamp, ARangeEndingOnADateTakesInThatWholeDay) {
  int64_t start = 0, end = 0;
  ASSERT_TRUE(ParseTimestamp("2026-03-20", &start));
  ASSERT_TRUE(ParseRangeEnd("2026-03-20", &end));
  EXPECT_EQ(end, start + 86'400'000'000LL - 1);
  // A time is taken as written.
  ASSERT_TRUE(ParseRangeEnd("2026-03-20T14:32:00Z", &end));
  EXPECT_EQ(end, 1774017120LL * 1000000);
  EXPECT_FALSE(ParseRangeEnd("2026-03-32", &end));
  EXPECT_FALSE(ParseRangeEnd("yesterday", &end));
}

TEST(Timestamp, ARangeThatEndsBeforeItStartsIsNamed) {
  std::string error;
  EXPECT_TRUE(CheckRangeOrder(5, 5, "--since ", "--until ", &error));
  EXPECT_TRUE(CheckRangeOrder(INT64_MIN, INT64_MAX, "--since ", "--until ", &error));
  EXPECT_TRUE(error.empty());
  EXPECT_FALSE(CheckRangeOrder(1774017120LL * 1000000, 0, "since=", "until=", &error));
  EXPECT_EQ(error, "since=2026-03-20T14:32:00Z is after until=1970-01-01T00:00:00Z: nothing can be in that range "
                   "(were they swapped?)");
}

TEST(Timestamp, AHintNamesTheMissingZoneAndNothingElse) {
  const std::string zone = " (a time needs its zone: Z for UTC, or an offset such as +02:00)";
  EXPECT_EQ(TimestampHint("2026-03-20 14:32:00"), zone);
  EXPECT_EQ(TimestampHint("2026-03-20T14:32:00.5"), zone);
  EXPECT_EQ(TimestampHint("2026-03-20T14:32:00Z"), "");  // nothing lacking
  EXPECT_EQ(TimestampHint("2026-03-20"), "");            // a date needs none
  EXPECT_EQ(TimestampHint("2026-03-20T14:32"), "");      // lacks more than a zone
  EXPECT_EQ(TimestampHint("yesterday"), "");
}

TEST(Timestamp, FormatsUtcWithMillisecondsWhenPresent) {
  EXPECT_EQ(FormatTimestamp(1774017120LL * 1000000), "2026-03-20T14:32:00Z");
  EXPECT_EQ(FormatTimestamp(1774017120LL * 1000000 + 123456), "2026-03-20T14:32:00.123Z");
  EXPECT_EQ(FormatTimestamp(-1000000), "1969-12-31T23:59:59Z");
}

}  // namespace
}  // namespace noxsync
