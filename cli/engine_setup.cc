#include "cli/engine_setup.h"

#include "adapters/jira/jira_backend.h"
#include "adapters/notify/webhook_notifier.h"
#include "adapters/servicenow/servicenow_backend.h"

namespace noxsync::cli {

Status BuildEngineSetup(const NoxsyncConfig& config, const Clock& clock, Sleeper& sleeper, EngineSetup* out) {
  if (config.jira) {
    auto b = jira::MakeJiraBackend(*config.jira, clock, sleeper);
    if (!b.ok()) return b.status();
    out->owned["jira"] = std::move(b).value();
  }
  if (config.servicenow) {
    auto b = servicenow::MakeServiceNowBackend(*config.servicenow, clock, sleeper);
    if (!b.ok()) return b.status();
    out->owned["servicenow"] = std::move(b).value();
  }
  for (const auto& [name, b] : out->owned) out->backends[name] = b.get();
  if (!config.notifications.empty()) {
    out->notify = std::make_unique<NotificationDispatcher>(clock, sleeper);
    for (const auto& channel : config.notifications) {
      auto n = notify::MakeWebhookNotifier(channel, clock, sleeper);
      if (!n.ok()) return n.status();
      out->notify->AddChannel(std::move(n).value(), notify::ChannelOptionsFor(channel));
    }
  }
  return Status::Ok();
}

}  // namespace noxsync::cli
