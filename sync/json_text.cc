#include "sync/json_text.h"

#include <array>
#include <charconv>
#include <cstdint>
#include <cstring>

namespace noxsync {

namespace {

// Whether any of the eight bytes of w needs an escape in a JSON string: a
// control character (below 0x20), '"' or '\\'. Bytes from 0x80 up (UTF-8)
// never do. A borrow can only mark a byte above one that needs an escape, so
// the answer for the word as a whole is exact.
inline bool AnyNeedsEscape(uint64_t w) {
  constexpr uint64_t kOnes = 0x0101010101010101ull, kHigh = 0x8080808080808080ull;
  auto below = [](uint64_t x, uint64_t n) { return (x - kOnes * n) & ~x & kHigh; };
  return (below(w, 0x20) | below(w ^ (kOnes * '"'), 1) | below(w ^ (kOnes * '\\'), 1)) != 0;
}

// The same question for one byte.
constexpr std::array<bool, 256> kNeedsEscape = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 0x20; ++c) t[static_cast<size_t>(c)] = true;
  t['"'] = t['\\'] = true;
  return t;
}();

}  // namespace

void AppendJsonString(std::string* out, std::string_view s) {
  static const char* kHex = "0123456789abcdef";
  out->push_back('"');
  const char* p = s.data();
  const size_t n = s.size();
  size_t run = 0;  // start of the pending run of bytes that need no escape
  for (size_t i = 0; i < n;) {
    // Eight bytes at a time while none needs an escape: raw events and
    // projections are long runs of plain text, and a byte at a time was the
    // largest single cost of writing them (perf, serve under webhook load).
    if (n - i >= 8) {
      uint64_t w;
      std::memcpy(&w, p + i, 8);
      if (!AnyNeedsEscape(w)) {
        i += 8;
        continue;
      }
    }
    unsigned char c = static_cast<unsigned char>(p[i]);
    if (!kNeedsEscape[c]) {
      ++i;
      continue;
    }
    out->append(p + run, i - run);
    run = ++i;
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      case '\b': out->append("\\b"); break;
      case '\f': out->append("\\f"); break;
      default:
        out->append("\\u00");
        out->push_back(kHex[c >> 4]);
        out->push_back(kHex[c & 0xf]);
    }
  }
  out->append(p + run, n - run);
  out->push_back('"');
}

void JsonText::Key(std::string_view key) {
  if (!first_) out_->push_back(',');
  first_ = false;
  AppendJsonString(out_, key);
  out_->push_back(':');
}

JsonText& JsonText::Str(std::string_view key, std::string_view value) {
  Key(key);
  AppendJsonString(out_, value);
  return *this;
}

namespace {
template <class N>
void AppendNumber(std::string* out, N value) {
  char buf[24];
  out->append(buf, std::to_chars(buf, buf + sizeof(buf), value).ptr);
}
}  // namespace

JsonText& JsonText::Int(std::string_view key, int64_t value) {
  Key(key);
  AppendNumber(out_, value);
  return *this;
}

JsonText& JsonText::Uint(std::string_view key, uint64_t value) {
  Key(key);
  AppendNumber(out_, value);
  return *this;
}

JsonText& JsonText::Bool(std::string_view key, bool value) {
  Key(key);
  out_->append(value ? "true" : "false");
  return *this;
}

JsonText& JsonText::StrArray(std::string_view key, const std::vector<std::string>& values) {
  Key(key);
  out_->push_back('[');
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out_->push_back(',');
    AppendJsonString(out_, values[i]);
  }
  out_->push_back(']');
  return *this;
}

}  // namespace noxsync
