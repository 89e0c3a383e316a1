// RunCommand: runs the noxsync binary as a user would, capturing its exit
// code, stdout and stderr, for the end-to-end tests.
#pragma once

#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace noxsync::testing {

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

inline std::string ReadFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// `args` is appended to the binary path as shell words; quote as needed.
inline CommandResult RunNoxsync(const std::string& args, const std::string& scratch) {
  std::string out = scratch + "/cmd.out", err = scratch + "/cmd.err";
  std::string cmd = std::string(NOXSYNC_BIN) + " " + args + " >" + out + " 2>" + err + " </dev/null";
  int status = std::system(cmd.c_str());
  CommandResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = ReadFile(out);
  r.err = ReadFile(err);
  return r;
}

}  // namespace noxsync::testing
