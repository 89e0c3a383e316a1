#include "sync/time_zone.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace noxsync {
namespace {

int64_t Be(const std::string& d, size_t pos, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(d[pos + i]);
  if (bytes == 4) return static_cast<int32_t>(static_cast<uint32_t>(v));
  return static_cast<int64_t>(v);
}

}  // namespace

TimeZone TimeZone::Utc() {
  TimeZone z;
  z.name_ = "UTC";
  return z;
}

Result<TimeZone> TimeZone::Load(std::string_view name, const std::string& dir) {
  if (name == "UTC" || name == "Etc/UTC" || name == "GMT" || name == "Z") return Utc();
  bool safe = !name.empty() && name.find("..") == std::string_view::npos && name[0] != '/';
  if (!safe) return Status::InvalidArgument("\"" + std::string(name) + "\" is not a time zone name");
  std::string path = dir + "/" + std::string(name);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::NotFound("time zone \"" + std::string(name) + "\" is not in " + dir +
                            " (install Debian's tzdata package)");
  }
  std::stringstream buf;
  buf << in.rdbuf();
  std::string d = buf.str();
  auto bad = [&] { return Status::Corruption(path + " is not a TZif time zone file"); };
  if (d.size() < 44 || d.compare(0, 4, "TZif") != 0) return bad();
  // v1 block (4-byte times), then for v2+ the same block with 8-byte times.
  auto counts = [&](size_t at, int64_t c[6]) {
    for (int i = 0; i < 6; ++i) c[i] = Be(d, at + 20 + 4 * i, 4);
  };
  int64_t c[6];  // isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt
  counts(0, c);
  size_t at = 0;
  int tsize = 4;
  if (d[4] >= '2') {
    size_t v1 = 44 + c[3] * 4 + c[3] + c[4] * 6 + c[5] + c[2] * 8 + c[1] + c[0];
    if (d.size() < v1 + 44 || d.compare(v1, 4, "TZif") != 0) return bad();
    at = v1;
    counts(at, c);
    tsize = 8;
  }
  size_t p = at + 44;
  int64_t timecnt = c[3], typecnt = c[4];
  if (typecnt < 1 || d.size() < p + timecnt * tsize + timecnt + typecnt * 6) return bad();
  TimeZone z;
  z.name_ = std::string(name);
  std::vector<int32_t> type_offsets(typecnt);
  size_t types_at = p + timecnt * tsize + timecnt;
  for (int64_t i = 0; i < typecnt; ++i) type_offsets[i] = static_cast<int32_t>(Be(d, types_at + i * 6, 4));
  z.initial_offset_ = type_offsets[0];
  for (int64_t i = 0; i < timecnt; ++i) {
    int64_t t = Be(d, p + i * tsize, tsize);
    unsigned idx = static_cast<unsigned char>(d[p + timecnt * tsize + i]);
    if (idx >= type_offsets.size()) return bad();
    z.transitions_.push_back(t);
    z.offsets_.push_back(type_offsets[idx]);
  }
  return z;
}

int32_t TimeZone::OffsetAt(int64_t utc_us) const {
  int64_t s = utc_us >= 0 ? utc_us / 1000000 : -((-utc_us + 999999) / 1000000);
  auto it = std::upper_bound(transitions_.begin(), transitions_.end(), s);
  if (it == transitions_.begin()) return initial_offset_;
  return offsets_[(it - transitions_.begin()) - 1];
}

int64_t TimeZone::ToUtc(int64_t local_us) const {
  // Try the offsets in force around that time; the earliest consistent wins.
  int64_t best = local_us - static_cast<int64_t>(OffsetAt(local_us)) * 1000000;
  for (int64_t probe : {local_us - 86400LL * 1000000, local_us + 86400LL * 1000000}) {
    int64_t guess = local_us - static_cast<int64_t>(OffsetAt(probe)) * 1000000;
    if (guess + static_cast<int64_t>(OffsetAt(guess)) * 1000000 == local_us) best = std::min(best, guess);
  }
  return best;
}

std::string TimeZone::FormatMinute(int64_t utc_us) const {
  using namespace std::chrono;
  int64_t local_s = utc_us / 1000000 + OffsetAt(utc_us);
  if (utc_us < 0 && utc_us % 1000000 != 0) --local_s;
  sys_seconds tp{seconds{local_s}};
  auto day = floor<days>(tp);
  year_month_day ymd{day};
  hh_mm_ss hms{tp - day};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u %02d:%02d", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()));
  return buf;
}

}  // namespace noxsync
