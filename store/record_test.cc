#include "store/record.h"

#include <gtest/gtest.h>

namespace noxsync {
namespace {

LogRecord Sample() {
  LogRecord r;
  r.seq = 42;
  r.time_us = 1774017120000000;
  r.type = "event.received";
  r.incident = "inc_00000001";
  r.payload = R"({"event_id":"evt_1"})";
  r.prev_hash.fill(7);
  r.hash = ComputeHash(r);
  return r;
}

TEST(Record, EncodeDecodeRoundTrip) {
  LogRecord r = Sample();
  LogRecord back;
  ASSERT_TRUE(DecodeRecord(EncodeRecord(r), &back).ok());
  EXPECT_EQ(back.seq, r.seq);
  EXPECT_EQ(back.time_us, r.time_us);
  EXPECT_EQ(back.type, r.type);
  EXPECT_EQ(back.incident, r.incident);
  EXPECT_EQ(back.payload, r.payload);
  EXPECT_EQ(back.prev_hash, r.prev_hash);
  EXPECT_EQ(back.hash, r.hash);
}

TEST(Record, PeekTypeReadsTheTypeAndRefusesWhatIsNotARecord) {
  std::string stored = EncodeRecord(Sample());
  EXPECT_EQ(PeekRecordType(stored), "event.received");
  EXPECT_EQ(PeekRecordType(stored.substr(0, 40)), "");  // too short to be one
  std::string wrong_version = stored;
  wrong_version[0] = 9;
  EXPECT_EQ(PeekRecordType(wrong_version), "");
  std::string long_type = stored;
  long_type[17] = '\x7f';  // a type length past the end
  EXPECT_EQ(PeekRecordType(long_type), "");
}

TEST(Record, HashCoversEveryFieldAndThePreviousHash) {
  const Hash base = Sample().hash;
  auto changed = [&](auto mutate) {
    LogRecord r = Sample();
    mutate(r);
    return ComputeHash(r) != base;
  };
  EXPECT_TRUE(changed([](LogRecord& r) { r.seq++; }));
  EXPECT_TRUE(changed([](LogRecord& r) { r.time_us++; }));
  EXPECT_TRUE(changed([](LogRecord& r) { r.type = "event.rejected"; }));
  EXPECT_TRUE(changed([](LogRecord& r) { r.incident = "inc_00000002"; }));
  EXPECT_TRUE(changed([](LogRecord& r) { r.payload += " "; }));
  EXPECT_TRUE(changed([](LogRecord& r) { r.prev_hash[31] ^= 1; }));
  // Moving bytes between fields must change the hash too (length prefixes).
  EXPECT_TRUE(changed([](LogRecord& r) {
    r.type = "event.receivedinc_00000001";
    r.incident = "";
  }));
}

TEST(Record, DecodeRejectsTruncatedAndUnknownVersion) {
  std::string v = EncodeRecord(Sample());
  LogRecord out;
  for (size_t cut : {size_t{0}, size_t{10}, v.size() - 65, v.size() - 1}) {
    EXPECT_FALSE(DecodeRecord(std::string_view(v).substr(0, cut), &out).ok()) << "cut at " << cut;
  }
  std::string bad = v;
  bad[0] = 9;
  Status s = DecodeRecord(bad, &out);
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("version 9"), std::string::npos);
}

TEST(Record, SeqKeysSortInSeqOrder) {
  EXPECT_LT(SeqKey(255), SeqKey(256));
  EXPECT_LT(SeqKey(1), SeqKey(1ull << 40));
  EXPECT_EQ(SeqFromKey(SeqKey(123456789)), 123456789u);
}

TEST(Record, HashHexIsLowercase64Chars) {
  Hash h{};
  h[0] = 0xab;
  std::string hex = HashHex(h);
  EXPECT_EQ(hex.size(), 64u);
  EXPECT_EQ(hex.substr(0, 4), "ab00");
}

}  // namespace
}  // namespace noxsync
