#include "cli/args.h"

#include <cstdio>
#include <cstdlib>

#include "cli/logging.h"
#include "sync/timestamp.h"

namespace noxsync::cli {

bool Args::Parse(const std::vector<std::string>& argv, std::string* error) {
  bool only_positional = false;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (only_positional || a == "-" || a.empty() || a[0] != '-') {
      positional_.push_back(a);
      continue;
    }
    if (a == "--") {
      only_positional = true;
      continue;
    }
    std::string name = a;
    std::string value;
    bool inline_value = false;
    if (auto eq = a.find('='); eq != std::string::npos && a.rfind("--", 0) == 0) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
      inline_value = true;
    }
    if (flags_.count(name)) {
      if (inline_value) {
        *error = "option " + name + " takes no value";
        return false;
      }
      set_.insert(name);
    } else if (options_.count(name)) {
      if (!inline_value) {
        if (i + 1 >= argv.size()) {
          *error = "option " + name + " needs a value";
          return false;
        }
        value = argv[++i];
      }
      // Given twice, one value would win unseen (`--status Open --status
      // Closed` lists the closed ones only): neither is guessed at.
      if (auto given = values_.find(name); given != values_.end()) {
        *error = "option " + name + " is given twice (" + given->second + ", then " + value + "); give it once";
        return false;
      }
      values_[name] = value;
    } else {
      *error = "unknown option " + name;
      return false;
    }
  }
  return true;
}

std::string Args::Get(const std::string& option, const std::string& fallback) const {
  auto it = values_.find(option);
  return it == values_.end() ? fallback : it->second;
}

namespace {

// `end`: the option ends a range, where a date alone means the whole day.
bool ParseTimeOption(const Args& args, const char* opt, bool end, int64_t* out, std::string* err) {
  if (!args.Given(opt)) return true;
  if (!(end ? ParseRangeEnd(args.Get(opt), out) : ParseTimestamp(args.Get(opt), out))) {
    *err = std::string(opt) + ": expected RFC 3339 (2026-03-20T14:00:00Z) or a date (2026-03-20), got \"" +
           args.Get(opt) + "\"" + TimestampHint(args.Get(opt));
    return false;
  }
  return true;
}

}  // namespace

bool ParseTimeRange(const Args& args, int64_t* since, int64_t* until, std::string* err) {
  return ParseTimeOption(args, "--since", false, since, err) && ParseTimeOption(args, "--until", true, until, err) &&
         CheckRangeOrder(*since, *until, "--since ", "--until ", err);
}

std::string StorePath(const Args& args) {
  if (args.Given("--db")) return args.Get("--db");
  if (const char* env = std::getenv("NOXSYNC_DB"); env != nullptr && *env != '\0') return env;
  return "./noxsync-data";
}

int Fail(int code, const std::string& message) {
  Announce(Say::kError, message);
  return code;
}

}  // namespace noxsync::cli
