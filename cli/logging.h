// Where noxsync's log lines go: stderr, one line per event, UTC times, so
// that stdout stays clean for output a person pipes (--json, timelines).
#pragma once

namespace noxsync::cli {

// Call once at start-up. $NOXSYNC_LOG_LEVEL (trace, debug, info, warn,
// error, off) sets the level; the default is info.
void SetUpLogging();

}  // namespace noxsync::cli
