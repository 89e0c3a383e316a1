// ConfigSection: strict reading of one JSON object of noxsync's configuration.
//
// Every getter names its key, so Finish() can report keys nobody asked for
// (a misspelt "api_tokn" is an error, not a silent default). Every error
// carries the JSON path ("backends.jira.project: expected a string") and is
// collected, so a user sees all problems of a file at once. Strings expand
// ${ENV_VAR}, so secrets stay out of the file; a missing variable is an error
// naming the variable, never its value. Not thread-safe; used at start-up.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/fwd.hpp>

#include "store/status.h"
#include "sync/secret.h"

namespace noxsync {

struct ConfigProblems {
  std::vector<std::string> errors;
  std::vector<std::string> warnings;
  bool ok() const { return errors.empty(); }
  // All errors, one per line, for the user.
  std::string Text() const;
};

class ConfigSection {
 public:
  // `object` must outlive this section.
  ConfigSection(const boost::json::object& object, std::string path, ConfigProblems* problems);

  const std::string& path() const { return path_; }
  bool Has(std::string_view key) const;

  std::string Str(std::string_view key, std::string fallback = "");
  std::string RequiredStr(std::string_view key);
  // A secret: must come from ${ENV}; a literal value works but is warned of.
  Secret RequiredSecret(std::string_view key);
  Secret OptionalSecret(std::string_view key);
  int64_t Int(std::string_view key, int64_t fallback, int64_t min, int64_t max);
  bool Bool(std::string_view key, bool fallback);
  std::vector<std::string> StrList(std::string_view key);
  std::map<std::string, std::string> StrMap(std::string_view key);
  // An object of integers, each within [min, max].
  std::map<std::string, int64_t> IntMap(std::string_view key, int64_t min, int64_t max);
  // An object value as JSON text per key ({"customfield_1": "\"x\""}).
  std::map<std::string, std::string> JsonMap(std::string_view key);
  std::optional<ConfigSection> Section(std::string_view key);
  // An array of objects: one section per element ("notifications[0]").
  std::vector<ConfigSection> SectionList(std::string_view key);

  void Error(std::string_view key, std::string_view message);
  void Warn(std::string_view key, std::string_view message);

  // Reports every key that no getter asked for.
  void Finish();

 private:
  const boost::json::value* Find(std::string_view key);
  std::optional<std::string> Expand(std::string_view key, std::string_view raw);
  std::string KeyPath(std::string_view key) const;

  const boost::json::object* object_;
  std::string path_;
  ConfigProblems* problems_;
  std::vector<std::string> asked_;
};

// Reads and parses a JSON configuration file; the Status names the file and,
// for a syntax error, the line and column.
Result<std::shared_ptr<boost::json::value>> LoadConfigFile(const std::string& path);

}  // namespace noxsync
