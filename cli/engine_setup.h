// EngineSetup: the backends and notification channels a configuration
// names, built and owned together, for the commands that run the engine
// (sync, incident set-status, demo).
#pragma once

#include <map>
#include <memory>
#include <string>

#include "cli/config.h"
#include "sync/backend.h"
#include "sync/clock.h"
#include "sync/notification_dispatcher.h"

namespace noxsync::cli {

struct EngineSetup {
  std::map<std::string, std::unique_ptr<Backend>> owned;
  std::map<std::string, Backend*> backends;
  std::unique_ptr<NotificationDispatcher> notify;
};

// Fails (a config error: an unreadable ca_file) with the backend named.
Status BuildEngineSetup(const NoxsyncConfig& config, const Clock& clock, Sleeper& sleeper, EngineSetup* out);

}  // namespace noxsync::cli
