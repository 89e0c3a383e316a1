// Args: the small command-line parser every sub-command uses. Options are
// declared up front so an unknown or misspelt one is a usage error (exit 2)
// rather than silently ignored. Not thread-safe; one per command run.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace noxsync::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

class Args {
 public:
  // `flags` take no value (--json); `options` take one (--db PATH).
  Args(std::set<std::string> flags, std::set<std::string> options)
      : flags_(std::move(flags)), options_(std::move(options)) {
    flags_.insert("--help");
    flags_.insert("-h");
  }

  // False with *error set on an unknown option, a missing value, or an
  // option given twice.
  bool Parse(const std::vector<std::string>& argv, std::string* error);

  bool Has(const std::string& flag) const { return set_.count(flag) > 0; }
  std::string Get(const std::string& option, const std::string& fallback = "") const;
  bool Given(const std::string& option) const { return values_.count(option) > 0; }
  const std::vector<std::string>& positional() const { return positional_; }
  bool help() const { return Has("--help") || Has("-h"); }

 private:
  std::set<std::string> flags_;
  std::set<std::string> options_;
  std::set<std::string> set_;
  std::map<std::string, std::string> values_;
  std::vector<std::string> positional_;
};

// --since and --until, where given (RFC 3339 or a date: its 00:00 UTC as
// --since, the whole day as --until); false with *err naming the option, or
// the two when --since is after --until. Ends not given are left as they are.
bool ParseTimeRange(const Args& args, int64_t* since, int64_t* until, std::string* err);

// --db, else $NOXSYNC_DB, else ./noxsync-data.
std::string StorePath(const Args& args);

// Prints "noxsync: <message>" to stderr and returns `code`.
int Fail(int code, const std::string& message);

}  // namespace noxsync::cli
