// Where noxsync's log lines go: stderr, one line per event, UTC times, so
// that stdout stays clean for output a person pipes (--json, timelines).
#pragma once

#include <string>
#include <string_view>

namespace noxsync::cli {

// Call once at start-up. $NOXSYNC_LOG_LEVEL (trace, debug, info, warn,
// error, off) sets the level; the default is info. `format` is "text"
// (for a terminal) or "json": one JSON object per line with time, level,
// msg, and the incident id, ticket key and request id the message names,
// as fields (docs/operations.md#logs).
void SetUpLogging(const std::string& format = "text");

// The JSON line for one message (without the newline); exposed for tests.
std::string JsonLogLine(std::string_view time, std::string_view level, std::string_view message);

}  // namespace noxsync::cli
