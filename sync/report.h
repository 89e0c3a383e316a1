// Report: the Noxys guide's reporting figures, computed from the event log
// alone (docs/reports.md). One pass over the log; nothing is read from the
// projections, so a report says what the audit trail says.
//
// Incidents are in the range when their first event's time is; everything
// that happened to them since, up to now, counts. Durations are measured in
// log time: from `incident.opened` to the first move to Resolved or Closed
// (time to resolution), and to the first move out of Open made by a person
// or Noxys (time to assignment; an auto-resolve is not an assignment).
//
// An incident's severity is the priority the rules gave its tickets (the
// one its SLA deadlines follow), else the priority of its risk.
//
// Every format renders the same list of figures through one formatter, so
// text, JSON, CSV and HTML cannot disagree.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "store/event_log.h"

namespace noxsync {

struct ReportRange {
  int64_t since_us = INT64_MIN;
  int64_t until_us = INT64_MAX;
};

// One figure: `section` groups it ("summary", "by_platform", ...), `key`
// names it inside the section, `unit` says how it is written: "count",
// "percent" (one decimal), "seconds" (whole seconds, and a duration for
// people in text and HTML).
struct Figure {
  std::string section;
  std::string key;
  double value = 0;
  std::string unit;
};

struct SlaBreachRow {
  std::string incident;
  std::string severity;
  std::string deadline;
  int64_t due_us = 0;
  int64_t recorded_us = 0;
};

struct Report {
  ReportRange range;
  int64_t generated_us = 0;
  std::vector<Figure> figures;     // in the order the formats show them
  std::string trend_unit;          // "day", "week", "month" or "year"
  std::vector<SlaBreachRow> breaches;

  // The figure, or nullptr.
  const Figure* Find(const std::string& section, const std::string& key) const;
  std::vector<const Figure*> Section(const std::string& section) const;
};

Status BuildReport(const EventLog& log, const ReportRange& range, int64_t now_us, Report* out);

// The sections a report has, in the order every format writes them:
// "summary", "tickets_created", ..., "trend". The JSON has each of them
// (empty over a range with no incident) and "sla_breaches" besides.
const std::vector<std::string>& ReportSections();

// The figure's value as every format writes it: "12", "75.0", "7200".
std::string FigureValue(const Figure& f);

std::string ReportText(const Report& r);
std::string ReportJson(const Report& r);
std::string ReportCsv(const Report& r);
std::string ReportHtml(const Report& r);  // one file, inline SVG, no script

}  // namespace noxsync
