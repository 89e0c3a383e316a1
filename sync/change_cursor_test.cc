#include "sync/change_cursor.h"

#include <gtest/gtest.h>

namespace noxsync {
namespace {

Ticket T(std::string key, int64_t updated, std::string version) {
  Ticket t;
  t.key = std::move(key);
  t.updated_us = updated;
  t.version = std::move(version);
  return t;
}

TEST(ChangeCursor, OverlappingPollsHandleEachVersionOnce) {
  ChangeCursor c(100);
  EXPECT_TRUE(c.Accept(T("SEC-1", 100, "a")));
  EXPECT_TRUE(c.Accept(T("SEC-2", 160, "b")));
  EXPECT_FALSE(c.Accept(T("SEC-2", 160, "b")));  // moved between pages
  c.Commit();
  EXPECT_EQ(c.since_us(), 160);
  // The next poll overlaps: SEC-1 is before the cursor, SEC-2 was seen.
  EXPECT_FALSE(c.Accept(T("SEC-1", 100, "a")));
  EXPECT_FALSE(c.Accept(T("SEC-2", 160, "b")));
  // A different ticket updated in the same instant is new; so is a new version.
  EXPECT_TRUE(c.Accept(T("SEC-3", 160, "c")));
  EXPECT_TRUE(c.Accept(T("SEC-2", 170, "d")));
  c.Commit();
  EXPECT_EQ(c.since_us(), 170);
  EXPECT_FALSE(c.Accept(T("SEC-2", 170, "d")));
  EXPECT_TRUE(c.Accept(T("SEC-2", 170, "e")));  // ServiceNow: same second, next sys_mod_count
}

TEST(ChangeCursor, SameInstantAcrossPollsIsKept) {
  ChangeCursor c(0);
  EXPECT_TRUE(c.Accept(T("A", 50, "1")));
  c.Commit();
  EXPECT_TRUE(c.Accept(T("B", 50, "1")));  // arrived later with the same time
  c.Commit();
  EXPECT_FALSE(c.Accept(T("A", 50, "1")));
  EXPECT_FALSE(c.Accept(T("B", 50, "1")));
}

TEST(ChangeCursor, UncommittedPollIsSeenAgain) {
  ChangeCursor c(0);
  EXPECT_TRUE(c.Accept(T("A", 50, "1")));
  ChangeCursor restored;
  ASSERT_TRUE(ChangeCursor::Decode(c.Encode(), &restored));  // crash before Commit
  EXPECT_TRUE(restored.Accept(T("A", 50, "1")));
}

TEST(ChangeCursor, AdvancesPastAQuietBurstButNeverBack) {
  ChangeCursor c(0);
  EXPECT_TRUE(c.Accept(T("A", 100, "1")));
  c.Commit();
  c.AdvanceTo(500);
  EXPECT_EQ(c.since_us(), 500);
  EXPECT_FALSE(c.Accept(T("A", 100, "1")));  // before the cursor now
  c.AdvanceTo(400);
  EXPECT_EQ(c.since_us(), 500);
}

TEST(ChangeCursor, EncodesAndDecodes) {
  ChangeCursor c(0);
  c.Accept(T("SEC-1", 42, "2026-11-29T10:00:00.000+0100"));
  c.Accept(T("SEC-2", 42, "7"));
  c.Commit();
  ChangeCursor d;
  ASSERT_TRUE(ChangeCursor::Decode(c.Encode(), &d));
  EXPECT_EQ(d.since_us(), 42);
  EXPECT_FALSE(d.Accept(T("SEC-1", 42, "2026-11-29T10:00:00.000+0100")));
  EXPECT_FALSE(d.Accept(T("SEC-2", 42, "7")));
  EXPECT_FALSE(ChangeCursor::Decode("x", &d));
  EXPECT_FALSE(ChangeCursor::Decode("12 nokeysep", &d));
}

}  // namespace
}  // namespace noxsync
