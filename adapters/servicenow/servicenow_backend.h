// ServiceNowBackend: the Backend interface over ServiceNow's Table API on
// the `incident` table (configurable).
//
// The Noxys incident id travels in `correlation_id` (with correlation_display
// "Noxys"), which is how FindByIncident and the change poll find noxsync's
// records. Priority is never written: ServiceNow computes it from urgency
// (from the risk) and impact (from the classification types). Auth is Basic
// or OAuth 2.0 (password or client-credentials grant against /oauth_token.do),
// the token refreshed before it expires and once more on a 401. What it sends
// and reads is in docs/servicenow.md. Thread-safe.
#pragma once

#include <memory>

#include "adapters/servicenow/servicenow_config.h"
#include "sync/backend.h"
#include "sync/clock.h"

namespace noxsync::servicenow {

// `clock` and `sleeper` must outlive the backend.
Result<std::unique_ptr<Backend>> MakeServiceNowBackend(ServiceNowConfig config, const Clock& clock,
                                                       Sleeper& sleeper);

// sys_updated_on and friends: UTC "YYYY-MM-DD HH:MM:SS".
bool ParseServiceNowTime(std::string_view text, int64_t* micros);
std::string FormatServiceNowTime(int64_t micros);
// `text` with every [code] and [/code] tag (any case) written as (code) and
// (/code). A journal field (work notes, comments) shows what stands between
// them as HTML while the instance's glide.ui.security.allow_codetag is true,
// its default, and what noxsync writes comes from Noxys events: a
// classification's value is text a user typed into an AI platform.
std::string BreakCodeTags(std::string text);

// Urgency 1..3 from a risk in parts per million, per the config's thresholds.
int UrgencyFor(const ServiceNowConfig& config, int64_t risk_ppm);
// Impact 1..3: the highest (lowest number) of the classification types present.
int ImpactFor(const ServiceNowConfig& config, const std::vector<std::string>& classification_types);

}  // namespace noxsync::servicenow
