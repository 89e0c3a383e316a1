// EngineSetup: the backends and notification channels a configuration
// names, built and owned together, for the commands that run the engine
// (sync, incident set-status, demo).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>

#include "cli/config.h"
#include "store/event_log.h"
#include "sync/backend.h"
#include "sync/clock.h"
#include "sync/notification_dispatcher.h"

namespace noxsync::cli {

struct EngineSetup {
  std::map<std::string, std::unique_ptr<Backend>> owned;
  std::map<std::string, Backend*> backends;
  // Where the dispatcher records each delivery (notification.sent) or
  // failure (backend.error); nothing is recorded while it is null. Set it
  // once the store is open; stop `notify` before the store closes.
  std::unique_ptr<std::atomic<EventLog*>> record_to = std::make_unique<std::atomic<EventLog*>>(nullptr);
  std::unique_ptr<NotificationDispatcher> notify;
};

// Fails (a config error: an unreadable ca_file) with the backend named.
Status BuildEngineSetup(const NoxsyncConfig& config, const Clock& clock, Sleeper& sleeper, EngineSetup* out);

}  // namespace noxsync::cli
