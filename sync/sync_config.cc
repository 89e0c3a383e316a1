#include "sync/sync_config.h"

#include <fnmatch.h>

#include <algorithm>
#include <cmath>

#include <boost/json.hpp>

#include "sync/backend.h"
#include "sync/config_reader.h"

namespace noxsync {

namespace {

TicketTemplate T(const char* text) {
  TicketTemplate t;
  std::string error;
  TicketTemplate::Parse(text, &t, &error);  // the defaults are known to parse
  return t;
}

bool RiskHolds(const std::pair<std::string, int64_t>& cond, int64_t ppm) {
  const auto& [op, v] = cond;
  if (op == ">=") return ppm >= v;
  if (op == ">") return ppm > v;
  if (op == "<=") return ppm <= v;
  return ppm < v;
}

}  // namespace

SyncConfig SyncConfig::Defaults() {
  SyncConfig c;
  const int64_t h = 3600'000'000LL;
  c.priorities[Severity::kCritical] = {900000, 1 * h, 0};
  c.priorities[Severity::kHigh] = {700000, 4 * h, 0};
  c.priorities[Severity::kMedium] = {500000, 24 * h, 0};
  c.priorities[Severity::kLow] = {0, 5 * 24 * h, 0};
  Rule r1;
  r1.name = "block-high-risk";
  r1.actions = {PolicyAction::kBlock};
  r1.risk = {{">=", 800000}};
  r1.priority = Severity::kHigh;
  r1.assignment_group = "Security Team";
  Rule r2;
  r2.name = "critical-risk";
  r2.risk = {{">=", 950000}};
  r2.priority = Severity::kCritical;
  r2.assignment_group = "CISO";
  Rule r3;
  r3.name = "financial-data";
  r3.classifications = {"CREDIT_CARD", "IBAN"};
  r3.priority = Severity::kCritical;
  r3.assignment_group = "Finance Security Team";
  c.rules = {r1, r2, r3};
  c.summary = T("{action}: {platform_id} - {classification_type}");
  c.description = T("Noxys {action} on {platform_name} for {user_email}: {classification_type}, risk {risk_pct}%.\n\n"
                    "Policy: {policy_decisions.policy_name} ({policy_decisions.policy_id}).");
  c.labels = {T("noxys"), T("ai-security"), T("{platform_id}")};
  c.facts = {{"Platform", T("{platform_name}")},
             {"Risk Score", T("{risk_score}")},
             {"User", T("{user_email}")},
             {"Classifications", T("{classifications}")},
             {"Policy Action", T("{policy_decisions.action}")},
             {"Timestamp", T("{timestamp}")}};
  // Jira custom field ids differ per site, so the defaults name the fields
  // as the guide does; the adapter finds their ids (GET /field) and skips,
  // with a warning, a name the site lacks.
  c.field_mapping["jira"] = {{"Platform", T("{platform_name}")},
                             {"Risk Score", T("{risk_score}")},
                             {"User", T("{user_email}")},
                             {"Classifications", T("{classification_type}")},
                             {"Policy Action", T("{policy_decisions.action}")},
                             {"Noxys Event ID", T("{event_id}")}};
  c.field_mapping["servicenow"] = {{"u_noxys_event_id", T("{event_id}")},
                                   {"u_risk_score", T("{risk_score}")},
                                   {"u_classifications", T("{classification_type}")},
                                   {"u_platform_name", T("{platform_name}")}};
  return c;
}

Severity SyncConfig::PriorityForRisk(int64_t ppm) const {
  Severity best = Severity::kLow;
  int64_t best_min = -1;
  for (const auto& [sev, level] : priorities) {
    if (ppm >= level.min_risk_ppm && level.min_risk_ppm > best_min) {
      best = sev;
      best_min = level.min_risk_ppm;
    }
  }
  return best;
}

RuleOutcome SyncConfig::Decide(const NoxysEvent& e, const std::vector<std::string>& configured) const {
  RuleOutcome out;
  int64_t ppm = RiskPpm(e.risk_score);
  std::vector<std::string> types = ClassificationTypes(e);
  const Rule* winner = nullptr;
  Severity winner_priority = Severity::kLow;
  for (const Rule& r : rules) {
    if (!r.actions.empty() && std::find(r.actions.begin(), r.actions.end(), e.action) == r.actions.end()) continue;
    if (r.risk && !RiskHolds(*r.risk, ppm)) continue;
    if (!r.classifications.empty() &&
        std::none_of(types.begin(), types.end(), [&](const std::string& t) {
          return std::find(r.classifications.begin(), r.classifications.end(), t) != r.classifications.end();
        })) {
      continue;
    }
    if (!r.platforms.empty() &&
        std::find(r.platforms.begin(), r.platforms.end(), e.platform_id) == r.platforms.end()) {
      continue;
    }
    if (!r.user.empty() && ::fnmatch(r.user.c_str(), e.user_email.c_str(), FNM_CASEFOLD) != 0) continue;
    // Rules compete on the priority they give; the risk may still raise
    // the winner's (a rule raises priority, never lowers it).
    Severity p = r.priority.value_or(PriorityForRisk(ppm));
    if (winner == nullptr || p > winner_priority) {
      winner = &r;
      winner_priority = p;
    }
  }
  if (winner == nullptr) return out;
  out.matched = true;
  out.rule = winner->name;
  out.priority = std::max(winner_priority, PriorityForRisk(ppm));
  out.assignee = winner->assignee;
  out.assignment_group = winner->assignment_group;
  for (const auto& b : winner->backends.empty() ? configured : winner->backends) {
    if (std::find(configured.begin(), configured.end(), b) != configured.end()) out.backends.push_back(b);
  }
  return out;
}

namespace {

void ReadTemplate(ConfigSection* s, const std::string& key, TicketTemplate* out) {
  if (!s->Has(key)) return;
  std::string text = s->Str(key);
  std::string error;
  if (!TicketTemplate::Parse(text, out, &error)) s->Error(key, error);
}

}  // namespace

void ReadSyncConfig(ConfigSection* root, const std::vector<std::string>& backends, SyncConfig* c) {
  if (auto p = root->Section("priorities")) {
    for (const char* name : {"Critical", "High", "Medium", "Low"}) {
      auto level = p->Section(name);
      if (!level) continue;
      Severity sev;
      ParseSeverity(name, &sev);
      PriorityLevel& l = c->priorities[sev];
      l.min_risk_ppm = level->Int("min_risk_percent", l.min_risk_ppm / 10000, 0, 100) * 10000;
      l.response_sla_us = level->Int("response_sla_minutes", l.response_sla_us / 60'000'000, 1, 525600) * 60'000'000;
      l.resolution_sla_us = level->Int("resolution_sla_minutes", l.resolution_sla_us / 60'000'000, 0, 525600) * 60'000'000;
      level->Finish();
    }
    p->Finish();
  }
  if (root->Has("rules")) {
    c->rules.clear();
    for (auto& rs : root->SectionList("rules")) {
      Rule r;
      r.name = rs.RequiredStr("name");
      if (auto when = rs.Section("when")) {
        for (const auto& a : when->StrList("action")) {
          PolicyAction pa;
          if (!ParsePolicyAction(a, &pa)) {
            when->Error("action", "\"" + a + "\": use BLOCK, COACH, ALLOW");
            continue;
          }
          r.actions.push_back(pa);
        }
        if (auto risk = when->Section("risk_score")) {
          for (const char* op : {">=", ">", "<=", "<"}) {
            if (risk->Has(op)) r.risk = {{op, risk->Int(op, 0, 0, 100) * 10000}};
          }
          risk->Finish();
          if (!r.risk) when->Error("risk_score", "give one of >=, >, <=, < with a percentage, e.g. {\">=\": 80}");
        }
        r.classifications = when->StrList("classification");
        r.platforms = when->StrList("platform");
        r.user = when->Str("user");
        when->Finish();
      }
      if (auto then = rs.Section("then")) {
        r.backends = then->StrList("backends");
        for (const auto& b : r.backends) {
          if (std::find(backends.begin(), backends.end(), b) == backends.end()) {
            then->Error("backends", "\"" + b + "\" is not a configured backend (backends.jira, backends.servicenow)");
          }
        }
        if (then->Has("priority")) {
          Severity sev;
          std::string p = then->Str("priority");
          if (ParseSeverity(p, &sev)) {
            r.priority = sev;
          } else {
            then->Error("priority", "\"" + p + "\": use Critical, High, Medium, Low");
          }
        }
        r.assignee = then->Str("assignee");
        r.assignment_group = then->Str("assignment_group");
        then->Finish();
      }
      rs.Finish();
      c->rules.push_back(std::move(r));
    }
  }
  if (auto t = root->Section("templates")) {
    ReadTemplate(&*t, "summary", &c->summary);
    ReadTemplate(&*t, "description", &c->description);
    if (t->Has("labels")) {
      c->labels.clear();
      for (const auto& l : t->StrList("labels")) {
        TicketTemplate lt;
        std::string error;
        if (!TicketTemplate::Parse(l, &lt, &error)) {
          t->Error("labels", error);
        } else {
          c->labels.push_back(std::move(lt));
        }
      }
    }
    if (t->Has("facts")) {
      c->facts.clear();
      for (auto& f : t->SectionList("facts")) {
        std::string name = f.RequiredStr("name");
        TicketTemplate value;
        ReadTemplate(&f, "value", &value);
        f.Finish();
        c->facts.emplace_back(name, std::move(value));
      }
    }
    t->Finish();
  }
  if (auto fm = root->Section("field_mapping")) {
    for (std::string_view name : kBackendNames) {
      const std::string backend(name);
      if (!fm->Has(backend)) continue;
      auto& target = c->field_mapping[backend];
      target.clear();
      for (const auto& [field, text] : fm->StrMap(backend)) {
        TicketTemplate t;
        std::string error;
        if (!TicketTemplate::Parse(text, &t, &error)) {
          fm->Error(backend + "." + field, error);
          continue;
        }
        target.emplace(field, std::move(t));
      }
    }
    fm->Finish();
  }
  if (auto s = root->Section("sync")) {
    c->poll_interval_us = s->Int("poll_interval_seconds", c->poll_interval_us / 1'000'000, 1, 86400) * 1'000'000;
    c->poll_safety_us = s->Int("poll_safety_seconds", c->poll_safety_us / 1'000'000, 0, 3600) * 1'000'000;
    std::string policy = s->Str("conflict_policy", "ticket_wins");
    if (policy == "ticket_wins") {
      c->conflict_policy = ConflictPolicy::kTicketWins;
    } else if (policy == "latest_wins") {
      c->conflict_policy = ConflictPolicy::kLatestWins;
    } else {
      s->Error("conflict_policy", "\"" + policy + "\": use ticket_wins or latest_wins");
    }
    c->outbox_max_attempts = static_cast<int>(s->Int("max_attempts", c->outbox_max_attempts, 1, 1000));
    c->recurrence_comment_interval_us =
        s->Int("recurrence_comment_minutes", c->recurrence_comment_interval_us / 60'000'000, 0, 10080) * 60'000'000;
    c->auto_resolve_after_us = s->Int("auto_resolve_coach_after_hours", c->auto_resolve_after_us / 3600'000'000LL, 0, 8760) *
                               3600'000'000LL;
    c->escalate_with_comment = s->Bool("sla_escalation_comment", c->escalate_with_comment);
    c->escalate_raise_priority = s->Bool("sla_escalation_raise_priority", c->escalate_raise_priority);
    s->Finish();
  }
}

}  // namespace noxsync
