// Where noxsync's log lines go: stderr (or the file --log-file names), one
// line per event, UTC times, so that stdout stays clean for output a person
// pipes (--json, timelines).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace noxsync::cli {

// Call once at start-up. $NOXSYNC_LOG_LEVEL (trace, debug, info, warn,
// error, off) sets the level; the default is info. `format` is "text"
// (for a terminal) or "json": one JSON object per line with time, level,
// msg, and the incident id, ticket key and request id the message names,
// as fields (docs/operations.md#logs).
//
// `file`, when not empty, takes the lines instead of stderr: appended to,
// created 0640 if missing. Returns "" or why the file cannot be opened.
std::string SetUpLogging(const std::string& format = "text", const std::string& file = "");

// A line about the run as a whole (a configuration warning, why a command
// ends, how serve stopped) for the person who started it and for the log:
// into the log when it is kept apart from a terminal (--log-file, or
// --log-format json), and as plain "noxsync: ..." on stderr unless stderr
// carries JSON lines, where a plain one would break the stream. Before
// SetUpLogging, plain on stderr only.
enum class Say { kInfo, kWarning, kError };
void Announce(Say level, const std::string& message);

// Whether log lines go where a machine reads them (a file, or JSON lines),
// rather than only to a person's terminal.
bool LogIsForMachines();

// Opens the log file again by its name (after logrotate moved it away) and
// sends the next lines there. Returns "" and sets *path (empty when logging
// to stderr, so there is nothing to reopen), or says why it could not; the
// lines then keep going to the file already open.
std::string ReopenLogFile(std::string* path);

// For a warning that a loop, or every request, would repeat while one
// condition lasts (a nearly full disk): Due() is true the first time, then
// at most once a minute; Clear() when the condition ends, so the next time
// it begins is said at once. Any thread may call it.
class OncePerMinute {
 public:
  bool Due(int64_t now_us) {
    int64_t last = last_us_.load();
    return (last == 0 || now_us - last >= 60'000'000) && last_us_.compare_exchange_strong(last, now_us);
  }
  // True when the condition was said since the last Clear(); clears it.
  bool Clear() { return last_us_.exchange(0) != 0; }

 private:
  std::atomic<int64_t> last_us_{0};
};

// The JSON line for one message (without the newline); exposed for tests.
std::string JsonLogLine(std::string_view time, std::string_view level, std::string_view message);

}  // namespace noxsync::cli
