#include "adapters/notify/webhook_notifier.h"

#include <cstdio>

#include <boost/json.hpp>

#include "store/utf8.h"
#include "sync/config_reader.h"

namespace noxsync::notify {

namespace json = boost::json;

namespace {

std::string RiskText(const Notification& n) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%d%%", static_cast<int>((n.risk_ppm + 5000) / 10000));
  return n.severity.empty() ? std::string(buf) : std::string(buf) + " (" + n.severity + ")";
}

std::string Joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out.empty() ? "none" : out;
}

// Slack's mrkdwn treats &, < and > as control characters.
std::string SlackEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '&') out += "&amp;";
    else if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else out.push_back(c);
  }
  return out;
}

// Teams renders Markdown in a card's TextBlock and fact values, links
// included: an event's field reading "[Reset your password](https://...)"
// would show as a link whose address the SOC does not see. A space between
// "]" and "(" leaves the text readable and the address in plain sight.
std::string TeamsText(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    out.push_back(s[i]);
    if (s[i] == ']' && i + 1 < s.size() && s[i + 1] == '(') out.push_back(' ');
  }
  return out;
}

// Cuts to at most `max` bytes on a UTF-8 boundary (Slack limits text sizes).
std::string Cut(const std::string& s, size_t max) {
  if (s.size() <= max) return s;
  return std::string(Utf8Prefix(s, max - 3)) + "...";
}

const char* Prefix(Notification::Kind k) {
  switch (k) {
    case Notification::Kind::kTicketCreated: return "New incident";
    case Notification::Kind::kSlaBreached: return "SLA breached";
    case Notification::Kind::kEscalated: return "Escalated";
    case Notification::Kind::kTest: return "Test from noxsync";
  }
  return "";
}

std::string Headline(const Notification& n) {
  return std::string(Prefix(n.kind)) + ": " + (n.title.empty() ? n.incident_id : n.title);
}

class WebhookNotifier final : public Notifier {
 public:
  WebhookNotifier(WebhookConfig config, std::unique_ptr<http::HttpClient> client)
      : c_(std::move(config)), http_(std::move(client)) {
    channel_ = std::string(c_.kind == WebhookKind::kSlack ? "slack:" : "teams:") + c_.name;
  }
  const std::string& channel() const override { return channel_; }

  Status Send(const Notification& n) override {
    http::Request req;
    req.method = "POST";
    req.url = c_.url.reveal();
    req.what = std::string(c_.kind == WebhookKind::kSlack ? "Slack" : "Teams") + " webhook " + c_.name;
    req.idempotent = false;  // a resent message shows twice
    req.headers.push_back({"Content-Type", "application/json"});
    req.body = json::serialize(c_.kind == WebhookKind::kSlack ? SlackMessage(n) : TeamsMessage(n));
    http::Outcome out = http_->Send(req);
    if (!out.ok()) return Status::Unavailable(req.what + ": " + out.error);
    int s = out.response.status;
    if (s >= 200 && s < 300) return Status::Ok();
    // Slack answers in plain text: invalid_payload, no_service, channel_is_archived...
    std::string reason = ValidUtf8(Utf8Prefix(out.response.body, 200));
    std::string hint;
    if (s == 403 || s == 404 || s == 410) {
      hint = "; the webhook was removed or its channel archived: create a new webhook and update the URL";
    } else if (s == 400) {
      hint = "; the message was refused (a bug in noxsync's payload: please report it)";
    }
    Status::Code code = (s == 429 || s >= 500) ? Status::Code::kUnavailable : Status::Code::kInvalidArgument;
    return Status(code, req.what + " answered HTTP " + std::to_string(s) + (reason.empty() ? "" : ": " + reason) + hint);
  }

 private:
  WebhookConfig c_;
  std::unique_ptr<http::HttpClient> http_;
  std::string channel_;
};

}  // namespace

json::value SlackMessage(const Notification& n) {
  std::string headline = Headline(n);
  json::array fields;
  auto field = [&](const char* name, const std::string& value) {
    fields.push_back(json::object{{"type", "mrkdwn"}, {"text", Cut("*" + std::string(name) + ":*\n" + SlackEscape(value), 2000)}});
  };
  field("Platform", n.platform);
  field("Risk", RiskText(n));
  field("User", n.user);
  field("Classifications", Joined(n.classifications));
  if (!n.ticket_key.empty()) field("Ticket", n.ticket_key);
  field("Incident", n.incident_id);
  json::array blocks;
  blocks.push_back(json::object{{"type", "header"},
                                {"text", json::object{{"type", "plain_text"}, {"text", Cut(headline, 150)}, {"emoji", true}}}});
  blocks.push_back(json::object{{"type", "section"}, {"fields", std::move(fields)}});
  if (!n.detail.empty()) {
    blocks.push_back(json::object{{"type", "section"},
                                  {"text", json::object{{"type", "mrkdwn"}, {"text", Cut(SlackEscape(n.detail), 3000)}}}});
  }
  if (!n.ticket_url.empty()) {
    json::object button{{"type", "button"},
                        {"text", json::object{{"type", "plain_text"}, {"text", Cut("Open " + n.ticket_key, 75)}}},
                        {"url", n.ticket_url}};
    if (n.severity == "Critical" || n.kind == Notification::Kind::kSlaBreached) button["style"] = "danger";
    blocks.push_back(json::object{{"type", "actions"}, {"elements", json::array{std::move(button)}}});
  }
  // `text` is what notifications and screen readers show.
  return json::object{{"text", Cut(headline + " (" + n.platform + ", risk " + RiskText(n) + ")", 3000)},
                      {"blocks", std::move(blocks)}};
}

json::value TeamsMessage(const Notification& n) {
  json::array facts;
  auto fact = [&](const char* title, const std::string& value) {
    facts.push_back(json::object{{"title", title}, {"value", TeamsText(value)}});
  };
  fact("Platform", n.platform);
  fact("Risk", RiskText(n));
  fact("User", n.user);
  fact("Classifications", Joined(n.classifications));
  if (!n.ticket_key.empty()) fact("Ticket", n.ticket_key);
  fact("Incident", n.incident_id);
  json::array body;
  body.push_back(json::object{{"type", "TextBlock"}, {"text", TeamsText(Headline(n))}, {"weight", "Bolder"}, {"size", "Medium"},
                              {"wrap", true}});
  body.push_back(json::object{{"type", "FactSet"}, {"facts", std::move(facts)}});
  if (!n.detail.empty()) body.push_back(json::object{{"type", "TextBlock"}, {"text", TeamsText(n.detail)}, {"wrap", true}});
  json::object card{{"$schema", "http://adaptivecards.io/schemas/adaptive-card.json"},
                    {"type", "AdaptiveCard"},
                    {"version", "1.4"},
                    {"body", std::move(body)}};
  if (!n.ticket_url.empty()) {
    card["actions"] = json::array{json::object{{"type", "Action.OpenUrl"}, {"title", "Open " + n.ticket_key}, {"url", n.ticket_url}}};
  }
  return json::object{{"type", "message"},
                      {"attachments", json::array{json::object{{"contentType", "application/vnd.microsoft.card.adaptive"},
                                                               {"contentUrl", nullptr},
                                                               {"content", std::move(card)}}}}};
}

WebhookConfig ReadWebhookConfig(ConfigSection* s) {
  WebhookConfig c;
  std::string type = s->RequiredStr("type");
  if (type == "slack") {
    c.kind = WebhookKind::kSlack;
  } else if (type == "teams") {
    c.kind = WebhookKind::kTeams;
  } else if (!type.empty()) {
    s->Error("type", "\"" + type + "\": use slack or teams");
  }
  c.name = s->RequiredStr("name");
  c.url = s->RequiredSecret("webhook_url");
  const std::string& url = c.url.reveal();
  if (!url.empty() && url.rfind("https://", 0) != 0) {
    if (url.rfind("http://127.0.0.1", 0) == 0 || url.rfind("http://localhost", 0) == 0) {
      s->Warn("webhook_url", "is plain http (acceptable for a local test receiver only)");
    } else {
      s->Error("webhook_url", "must be an https:// URL");  // the URL itself is never echoed
    }
  }
  c.max_per_minute = static_cast<int>(s->Int("max_per_minute", c.max_per_minute, 1, 600));
  c.events = s->StrList("events");
  for (const auto& e : c.events) {
    if (e != "ticket_created" && e != "sla_breached" && e != "escalated") {
      s->Error("events", "\"" + e + "\": use ticket_created, sla_breached, escalated");
    }
  }
  c.http.name = std::string(c.kind == WebhookKind::kSlack ? "slack:" : "teams:") + c.name;
  if (auto h = s->Section("http")) {
    http::ReadClientOptions(&*h, &c.http);
    h->Finish();
  }
  s->Finish();
  return c;
}

ChannelOptions ChannelOptionsFor(const WebhookConfig& config) {
  ChannelOptions o;
  o.max_per_minute = config.max_per_minute;
  if (!config.events.empty()) {
    o.kinds = {Notification::Kind::kTest};
    for (const auto& e : config.events) {
      if (e == "ticket_created") o.kinds.insert(Notification::Kind::kTicketCreated);
      if (e == "sla_breached") o.kinds.insert(Notification::Kind::kSlaBreached);
      if (e == "escalated") o.kinds.insert(Notification::Kind::kEscalated);
    }
  }
  return o;
}

Result<std::unique_ptr<Notifier>> MakeWebhookNotifier(WebhookConfig config, const Clock& clock, Sleeper& sleeper) {
  auto client = http::HttpClient::Create(config.http, clock, sleeper);
  if (!client.ok()) return client.status();
  return std::unique_ptr<Notifier>(new WebhookNotifier(std::move(config), std::move(client).value()));
}

}  // namespace noxsync::notify
