#include "adapters/http/reply_reader.h"

#include <boost/json.hpp>

namespace noxsync::http {

namespace json = boost::json;

void ReplyReader::Fail(std::string_view path, std::string_view expected) {
  if (error_.empty()) {
    error_ = backend_ + "'s reply to " + what_ + " does not have " + std::string(path) + " as " +
             std::string(expected) + " (a proxy answering instead of " + backend_ + ", or an unsupported version)";
  }
}

const json::object* ReplyReader::Obj(const json::value* v, std::string_view path) {
  if (v == nullptr || !v->is_object()) {
    Fail(path, "an object");
    return nullptr;
  }
  return &v->get_object();
}

const json::object* ReplyReader::Child(const json::object* o, std::string_view key, std::string_view path) {
  return Obj(o ? o->if_contains(key) : nullptr, path);
}

const json::array* ReplyReader::Arr(const json::object* o, std::string_view key, std::string_view path) {
  const json::value* v = o ? o->if_contains(key) : nullptr;
  if (v == nullptr || !v->is_array()) {
    Fail(path, "an array");
    return nullptr;
  }
  return &v->get_array();
}

std::string ReplyReader::Str(const json::object* o, std::string_view key, std::string_view path) {
  const json::value* v = o ? o->if_contains(key) : nullptr;
  if (v == nullptr || !v->is_string()) {
    Fail(path, "a string");
    return "";
  }
  return std::string(v->get_string());
}

std::string ReplyReader::OptStr(const json::object* o, std::string_view key, std::string_view path) {
  const json::value* v = o ? o->if_contains(key) : nullptr;
  if (v == nullptr || v->is_null()) return "";
  if (!v->is_string()) {
    Fail(path, "a string");
    return "";
  }
  return std::string(v->get_string());
}

}  // namespace noxsync::http
