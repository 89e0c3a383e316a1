// NoxsyncConfig: the configuration file as the commands use it. One JSON
// object; unknown keys and bad values are errors with their JSON path;
// ${ENV_VAR} expands (docs/configuration.md).
//
// Today it holds the backends; rules, templates and the service join it with
// the sync engine. Secrets stay in Secret values and are never printed.
#pragma once

#include <optional>
#include <string>

#include "adapters/jira/jira_config.h"
#include "adapters/notify/webhook_notifier.h"
#include "adapters/servicenow/servicenow_config.h"
#include "sync/config_reader.h"
#include "sync/sync_config.h"

namespace noxsync::cli {

struct NoxsyncConfig {
  std::optional<jira::JiraConfig> jira;
  std::optional<servicenow::ServiceNowConfig> servicenow;
  std::vector<notify::WebhookConfig> notifications;
  SyncConfig sync = SyncConfig::Defaults();  // priorities, rules, templates, field mapping, sync

  std::vector<std::string> BackendNames() const;
};

// Reads and checks `path`. Problems (errors and warnings) go to *problems;
// the result is meaningful only when problems->ok().
NoxsyncConfig LoadConfig(const std::string& path, ConfigProblems* problems);

// Prints warnings as "noxsync: warning: ..." and errors as
// "noxsync: PATH: ..." to stderr.
void PrintProblems(const std::string& path, const ConfigProblems& problems);

}  // namespace noxsync::cli
