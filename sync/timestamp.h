// RFC 3339 timestamps <-> microseconds since the Unix epoch (UTC). Noxys
// events carry RFC 3339; the log stores microseconds; people read UTC.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace noxsync {

// Accepts YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM); 't' and ' ' as the
// separator too. Also a bare date YYYY-MM-DD (midnight UTC), handy for --since.
bool ParseTimestamp(std::string_view text, int64_t* micros);

// The end of a range (--until, until=): as ParseTimestamp, but a bare date
// means the last microsecond of that day, so `--until 2026-11-30` takes in
// the 30th and a range of one day is `--since D --until D`.
bool ParseRangeEnd(std::string_view text, int64_t* micros);

// False, with *error naming both ends as the caller spells them ("--since ",
// "since="), when a range ends before it starts: the two were swapped, and
// an empty answer would hide it.
bool CheckRangeOrder(int64_t since, int64_t until, std::string_view since_name, std::string_view until_name,
                     std::string* error);

// What a range's end that did not parse lacks, when it can tell: a time
// without its zone ("2026-03-20 14:00:00", read as it would be in any zone)
// gets " (a time needs its zone: Z for UTC, or an offset such as +02:00)";
// anything else "".
std::string TimestampHint(std::string_view text);

// 2026-03-20T14:32:00.123Z; milliseconds shown only when not zero.
std::string FormatTimestamp(int64_t micros);

}  // namespace noxsync
