#include "sync/printable.h"

#include <cstdio>

namespace noxsync {

namespace {

// The code point of a three-byte sequence E2 80|81 xx, or 0 when not one.
unsigned ThreeByte(std::string_view s, size_t i) {
  if (i + 2 >= s.size() || static_cast<unsigned char>(s[i]) != 0xE2) return 0;
  const unsigned b1 = static_cast<unsigned char>(s[i + 1]), b2 = static_cast<unsigned char>(s[i + 2]);
  if ((b1 & 0xC0) != 0x80 || (b2 & 0xC0) != 0x80) return 0;
  return 0x2000u | ((b1 & 0x3Fu) << 6) | (b2 & 0x3Fu);
}

bool Reorders(unsigned cp) { return (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069); }

}  // namespace

std::string PrintableText(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  char esc[8];
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7F) {
      std::snprintf(esc, sizeof esc, "\\x%02x", c);
      out += esc;
    } else if (c == 0xC2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(text[i + 1]) <= 0x9F) {
      std::snprintf(esc, sizeof esc, "\\u%04x", static_cast<unsigned char>(text[i + 1]));
      out += esc;
      ++i;
    } else if (unsigned cp = ThreeByte(text, i); Reorders(cp)) {
      std::snprintf(esc, sizeof esc, "\\u%04x", cp);
      out += esc;
      i += 2;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

}  // namespace noxsync
