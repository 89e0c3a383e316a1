#include "sync/json_text.h"

#include <charconv>

namespace noxsync {

void AppendJsonString(std::string* out, std::string_view s) {
  static const char* kHex = "0123456789abcdef";
  out->push_back('"');
  size_t run = 0;  // start of the pending run of bytes that need no escape
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out->append(s.data() + run, i - run);
    run = i + 1;
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
  out->append(s.data() + run, s.size() - run);
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
