// Reading the fields of a parsed JSON payload the way the log's readers
// want: a key that is missing or of another type reads as empty or zero,
// since a record written by another version of noxsync may lack it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

namespace noxsync {

inline std::string StrField(const boost::json::object& o, std::string_view key) {
  const boost::json::value* x = o.if_contains(key);
  return x && x->is_string() ? std::string(x->get_string()) : std::string();
}

inline int64_t IntField(const boost::json::object& o, std::string_view key) {
  const boost::json::value* x = o.if_contains(key);
  return x && x->is_int64() ? x->get_int64() : 0;
}

}  // namespace noxsync
