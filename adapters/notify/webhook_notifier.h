// Slack and Microsoft Teams incoming-webhook notifiers.
//
// Slack gets a Block Kit message (a header, the facts as fields, a button to
// the ticket); Teams gets an Adaptive Card (a title, a FactSet, an
// Action.OpenUrl to the ticket), as in the Noxys guide's examples. The
// webhook URL is a secret (its path is the credential): it is never logged
// or put in an error. Thread-safe; the NotificationDispatcher calls Send()
// from the channel's worker.
#pragma once

#include <memory>
#include <string>

#include <boost/json/value.hpp>

#include "adapters/http/http_client.h"
#include "sync/notification_dispatcher.h"
#include "sync/notifier.h"
#include "sync/secret.h"

namespace noxsync {
class ConfigSection;
}

namespace noxsync::notify {

enum class WebhookKind { kSlack, kTeams };

struct WebhookConfig {
  WebhookKind kind = WebhookKind::kSlack;
  std::string name;  // "soc": the channel is "slack:soc"
  Secret url;
  int max_per_minute = 20;
  std::vector<std::string> events;  // ticket_created, sla_breached, escalated; empty: all
  http::ClientOptions http;
};

// Reads one entry of "notifications" (problems go to the section; Finish()
// is called).
WebhookConfig ReadWebhookConfig(ConfigSection* section);

// The dispatcher's options for this channel: its rate and its events.
ChannelOptions ChannelOptionsFor(const WebhookConfig& config);

// The JSON bodies, exposed for tests and docs.
boost::json::value SlackMessage(const Notification& n);
boost::json::value TeamsMessage(const Notification& n);

Result<std::unique_ptr<Notifier>> MakeWebhookNotifier(WebhookConfig config, const Clock& clock, Sleeper& sleeper);

}  // namespace noxsync::notify
