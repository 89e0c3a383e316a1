// JsonText: appends JSON to a string by hand, for what is written on every
// event (projections, record payloads, the webhook's answer). Building a
// boost::json::object for each cost more than the rest of ingest's
// bookkeeping; this writes the same JSON, in a fixed key order, with no
// allocation beyond the output string.
// Boost.JSON still parses everything. Not thread-safe; one per output.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace noxsync {

class JsonText {
 public:
  explicit JsonText(std::string* out) : out_(out) { out_->push_back('{'); }

  JsonText& Str(std::string_view key, std::string_view value);
  JsonText& Int(std::string_view key, int64_t value);
  JsonText& Uint(std::string_view key, uint64_t value);
  JsonText& StrArray(std::string_view key, const std::vector<std::string>& values);
  JsonText& Bool(std::string_view key, bool value);
  // Writes the key and returns the output, for the caller to append the
  // value itself (an array of objects, a nested object): valid JSON only.
  std::string* Raw(std::string_view key) {
    Key(key);
    return out_;
  }
  // Closes the object; call once.
  void End() { out_->push_back('}'); }

 private:
  void Key(std::string_view key);
  std::string* out_;
  bool first_ = true;
};

// Appends s as a JSON string literal (quotes included), escaping per RFC 8259.
void AppendJsonString(std::string* out, std::string_view s);

}  // namespace noxsync
