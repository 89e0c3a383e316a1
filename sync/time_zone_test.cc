#include "sync/time_zone.h"

#include <gtest/gtest.h>

#include "sync/timestamp.h"

namespace noxsync {
namespace {

int64_t At(const char* rfc3339) {
  int64_t us = 0;
  EXPECT_TRUE(ParseTimestamp(rfc3339, &us)) << rfc3339;
  return us;
}

TEST(TimeZone, ParisFollowsDaylightSavingTime) {
  auto z = TimeZone::Load("Europe/Paris");
  ASSERT_TRUE(z.ok()) << z.status().message();
  EXPECT_EQ(z->OffsetAt(At("2026-01-15T12:00:00Z")), 3600);
  EXPECT_EQ(z->OffsetAt(At("2026-07-15T12:00:00Z")), 7200);
  // Spring forward on 2026-03-29 at 01:00 UTC.
  EXPECT_EQ(z->OffsetAt(At("2026-03-29T00:59:59Z")), 3600);
  EXPECT_EQ(z->OffsetAt(At("2026-03-29T01:00:00Z")), 7200);
  EXPECT_EQ(z->FormatMinute(At("2026-07-15T12:34:56Z")), "2026-07-15 14:34");
  EXPECT_EQ(z->ToUtc(At("2026-07-15T14:34:00Z")), At("2026-07-15T12:34:00Z"));
}

TEST(TimeZone, HalfHourZonesAndUtc) {
  auto kolkata = TimeZone::Load("Asia/Kolkata");
  ASSERT_TRUE(kolkata.ok());
  EXPECT_EQ(kolkata->FormatMinute(At("2026-11-29T06:00:00Z")), "2026-11-29 11:30");
  EXPECT_EQ(TimeZone::Utc().FormatMinute(At("2026-11-29T06:00:59Z")), "2026-11-29 06:00");
  auto utc = TimeZone::Load("Etc/UTC");
  ASSERT_TRUE(utc.ok());
  EXPECT_EQ(utc->OffsetAt(At("2026-11-29T06:00:00Z")), 0);
}

TEST(TimeZone, UnknownOrUnsafeNamesAreErrors) {
  auto missing = TimeZone::Load("Mars/Olympus_Mons");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("tzdata"), std::string::npos);
  EXPECT_FALSE(TimeZone::Load("../../etc/passwd").ok());
  EXPECT_FALSE(TimeZone::Load("/etc/passwd").ok());
}

}  // namespace
}  // namespace noxsync
