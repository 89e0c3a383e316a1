// ReplyReader: reads a backend's JSON reply strictly. A field that the
// backend's REST reference says is there and is not, or has another type, is
// an error that names the backend, the request and the field's path, instead
// of a silent default. The first problem is kept; later reads return empty
// values. Not thread-safe; one per reply.
#pragma once

#include <string>
#include <string_view>

#include <boost/json/value.hpp>

namespace noxsync::http {

class ReplyReader {
 public:
  // backend: "Jira"; what: "GET /rest/api/3/myself".
  ReplyReader(std::string backend, std::string what) : backend_(std::move(backend)), what_(std::move(what)) {}

  bool failed() const { return !error_.empty(); }
  const std::string& error() const { return error_; }

  const boost::json::object* Obj(const boost::json::value* v, std::string_view path);
  const boost::json::object* Child(const boost::json::object* o, std::string_view key, std::string_view path);
  const boost::json::array* Arr(const boost::json::object* o, std::string_view key, std::string_view path);
  std::string Str(const boost::json::object* o, std::string_view key, std::string_view path);
  // A string member that may be absent or null ("" then); any other type fails.
  std::string OptStr(const boost::json::object* o, std::string_view key, std::string_view path);
  void Fail(std::string_view path, std::string_view expected);

 private:
  std::string backend_;
  std::string what_;
  std::string error_;
};

}  // namespace noxsync::http
