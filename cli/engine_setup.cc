#include "cli/engine_setup.h"

#include "adapters/jira/jira_backend.h"
#include "adapters/notify/webhook_notifier.h"
#include "adapters/servicenow/servicenow_backend.h"
#include "sync/json_text.h"
#include "sync/projector.h"

#include <spdlog/spdlog.h>

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
    std::atomic<EventLog*>* record_to = out->record_to.get();
    const Clock* c = &clock;
    auto on_result = [record_to, c](const Notification& n, const std::string& channel, const Status& result) {
      EventLog* log = record_to->load();
      if (log == nullptr || n.kind == Notification::Kind::kTest) return;
      std::string payload;
      JsonText j(&payload);
      j.Str("channel", channel).Str("kind", NotificationKindName(n.kind)).Str("ticket_key", n.ticket_key);
      if (!result.ok()) {
        j.Str("backend", "notify:" + channel).Str("action", "notification").Str("reason", result.message());
      }
      j.End();
      Step step;
      step.records.push_back({c->NowMicros(), result.ok() ? record_type::kNotificationSent : record_type::kBackendError,
                              n.incident_id, std::move(payload)});
      if (Status s = log->Append(std::move(step)); !s.ok()) {
        spdlog::error("notify: could not record the {} notification of {} on {}: {}", NotificationKindName(n.kind),
                      n.incident_id, channel, s.message());
      }
    };
    out->notify = std::make_unique<NotificationDispatcher>(clock, sleeper, on_result);
    for (const auto& channel : config.notifications) {
      auto n = notify::MakeWebhookNotifier(channel, clock, sleeper);
      if (!n.ok()) return n.status();
      out->notify->AddChannel(std::move(n).value(), notify::ChannelOptionsFor(channel));
    }
  }
  return Status::Ok();
}

}  // namespace noxsync::cli
