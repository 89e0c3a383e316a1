// TimeZone: UTC offsets of an IANA zone ("Europe/Paris"), read from the
// system's compiled tz database (/usr/share/zoneinfo, Debian's tzdata).
//
// Jira reads JQL dates in the API user's time zone, so a cursor in UTC must
// be written in that zone. GCC 12's libstdc++ has no std::chrono::tzdb and
// localtime_r with $TZ is process-global, hence this small TZif reader.
// Past the last transition in the file (Debian's files run to 2037) the last
// offset holds. Immutable and thread-safe once loaded.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "store/status.h"

namespace noxsync {

class TimeZone {
 public:
  static TimeZone Utc();
  // "UTC", "Etc/UTC", "Europe/Paris", ... from `dir` (default the system's).
  static Result<TimeZone> Load(std::string_view name, const std::string& dir = "/usr/share/zoneinfo");

  const std::string& name() const { return name_; }
  // Seconds east of UTC at that UTC instant.
  int32_t OffsetAt(int64_t utc_us) const;
  // The UTC instant of a wall-clock minute in this zone ("2026-03-29 02:30"
  // may not exist or be ambiguous; the earlier reading is taken).
  int64_t ToUtc(int64_t local_us) const;
  // "yyyy-MM-dd HH:mm" in this zone: the JQL date format.
  std::string FormatMinute(int64_t utc_us) const;

 private:
  std::string name_;
  std::vector<int64_t> transitions_;  // UTC seconds, ascending
  std::vector<int32_t> offsets_;      // offsets_[i] applies from transitions_[i]
  int32_t initial_offset_ = 0;
};

}  // namespace noxsync
