#include "sync/timestamp.h"

#include <chrono>
#include <cstdio>
#include <thread>

#include "sync/clock.h"

namespace noxsync {
namespace {

bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

}  // namespace

int64_t SystemClock::NowMicros() const {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

void SystemSleeper::SleepFor(int64_t micros) {
  if (micros > 0) std::this_thread::sleep_for(std::chrono::microseconds(micros));
}

bool ParseRangeEnd(std::string_view text, int64_t* micros) {
  if (!ParseTimestamp(text, micros)) return false;
  if (text.size() == 10) *micros += 86'400'000'000LL - 1;  // YYYY-MM-DD
  return true;
}

std::string TimestampHint(std::string_view text) {
  int64_t ignored = 0;
  std::string zoned(text);
  zoned += 'Z';
  if (text.size() > 10 && !ParseTimestamp(text, &ignored) && ParseTimestamp(zoned, &ignored)) {
    return " (a time needs its zone: Z for UTC, or an offset such as +02:00)";
  }
  return "";
}

bool CheckRangeOrder(int64_t since, int64_t until, std::string_view since_name, std::string_view until_name,
                     std::string* error) {
  if (since <= until) return true;
  *error = std::string(since_name) + FormatTimestamp(since) + " is after " + std::string(until_name) +
           FormatTimestamp(until) + ": nothing can be in that range (were they swapped?)";
  return false;
}

bool ParseTimestamp(std::string_view s, int64_t* micros) {
  using namespace std::chrono;
  int y, mo, d, h = 0, mi = 0, sec = 0;
  if (!Digits(s, 0, 4, &y) || s.size() < 10 || s[4] != '-' || !Digits(s, 5, 2, &mo) || s[7] != '-' ||
      !Digits(s, 8, 2, &d)) {
    return false;
  }
  year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) return false;
  int64_t frac_us = 0;
  int64_t offset_s = 0;
  if (s.size() > 10) {
    if (s[10] != 'T' && s[10] != 't' && s[10] != ' ') return false;
    if (!Digits(s, 11, 2, &h) || s.size() < 19 || s[13] != ':' || !Digits(s, 14, 2, &mi) ||
        s[16] != ':' || !Digits(s, 17, 2, &sec)) {
      return false;
    }
    if (h > 23 || mi > 59 || sec > 60) return false;
    size_t pos = 19;
    if (pos < s.size() && s[pos] == '.') {
      ++pos;
      size_t start = pos;
      int64_t scale = 100000;
      while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
        frac_us += (s[pos] - '0') * scale;
        scale /= 10;
        ++pos;
      }
      if (pos == start) return false;
    }
    if (pos >= s.size()) return false;  // RFC 3339 requires a zone
    if (s[pos] == 'Z' || s[pos] == 'z') {
      ++pos;
    } else if (s[pos] == '+' || s[pos] == '-') {
      int oh, om;
      if (!Digits(s, pos + 1, 2, &oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
          !Digits(s, pos + 4, 2, &om) || oh > 23 || om > 59) {
        return false;
      }
      offset_s = (s[pos] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
      pos += 6;
    } else {
      return false;
    }
    if (pos != s.size()) return false;
  }
  int64_t days = sys_days(ymd).time_since_epoch().count();
  int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - offset_s;
  *micros = secs * 1000000 + frac_us;
  return true;
}

std::string FormatTimestamp(int64_t micros) {
  using namespace std::chrono;
  int64_t secs = micros >= 0 ? micros / 1000000 : -((-micros + 999999) / 1000000);
  int64_t rem_us = micros - secs * 1000000;
  int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
  int64_t sod = secs - days * 86400;
  year_month_day ymd{sys_days{std::chrono::days{days}}};
  char buf[40];
  int n = std::snprintf(buf, sizeof(buf), "%04d-%02u-%02uT%02d:%02d:%02d", static_cast<int>(ymd.year()),
                        static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                        static_cast<int>(sod / 3600), static_cast<int>(sod % 3600 / 60),
                        static_cast<int>(sod % 60));
  std::string out(buf, static_cast<size_t>(n));
  if (rem_us / 1000 != 0) {
    std::snprintf(buf, sizeof(buf), ".%03d", static_cast<int>(rem_us / 1000));
    out += buf;
  }
  out += 'Z';
  return out;
}

}  // namespace noxsync
