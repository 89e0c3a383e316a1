// Timeline: how records and incidents read for people (history, incidents)
// and for machines (--json). Pure formatting, no store access.
#pragma once

#include <string>
#include <vector>

#include "store/record.h"
#include "sync/incident.h"

namespace noxsync::cli {

// One line summarising what a record says: "evt_abc risk 0.95 BLOCK EMAIL".
std::string DescribeRecord(const LogRecord& r);

// The incident header and one line per record.
std::string FormatTimeline(const Incident& inc, const std::vector<LogRecord>& records);
// The same in parts, for printing an incident's records a page at a time:
// the incident and the column heads, then one line per record.
std::string FormatTimelineHead(const Incident& inc);
// The column heads alone, above records that belong to no incident.
std::string FormatTimelineColumns();
std::string FormatTimelineRecord(const LogRecord& r);

// {"seq":..,"time":..,"time_us":..,"type":..,"incident":..,"payload":"<exact JSON text>",
//  "prev_hash":..,"hash":..}
std::string RecordToJson(const LogRecord& r);

// The projection with readable times and risk added, for --json output.
std::string IncidentToDisplayJson(const Incident& inc);

std::string RiskText(int64_t risk_ppm);  // 950000 -> "0.95"

}  // namespace noxsync::cli
