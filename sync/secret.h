// Secret: an API token, password or webhook secret read from configuration.
// It has no stream operator and no implicit conversion, so it cannot slip into
// a log line or an error by accident; code that needs the bytes (to build an
// Authorization header) calls reveal(). Copyable, immutable.
#pragma once

#include <string>

namespace noxsync {

class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string value) : value_(std::move(value)) {}
  const std::string& reveal() const { return value_; }
  bool empty() const { return value_.empty(); }

 private:
  std::string value_;
};

}  // namespace noxsync
