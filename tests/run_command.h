// RunCommand: runs the noxsync binary as a user would, capturing its exit
// code, stdout and stderr, for the end-to-end tests.
#pragma once

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

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

// `noxsync sync` (the loop) in the background on store `db`, its standard
// output and error written to `output`; the caller stops it and waits.
inline pid_t StartSyncLoop(const std::string& config, const std::string& db, const std::string& output) {
  pid_t pid = ::fork();
  if (pid == 0) {
    int fd = ::open(output.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::execl(NOXSYNC_BIN, NOXSYNC_BIN, "sync", "--config", config.c_str(), "--db", db.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

}  // namespace noxsync::testing
