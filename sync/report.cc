#include "sync/report.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <unordered_map>

#include <boost/json.hpp>

#include "sync/incident.h"
#include "sync/json_fields.h"
#include "sync/printable.h"
#include "sync/projector.h"
#include "sync/timestamp.h"

namespace noxsync {

namespace json = boost::json;

namespace {

constexpr int64_t kDayUs = 86'400'000'000LL;
const char* const kSeverities[] = {"Critical", "High", "Medium", "Low"};

// Names repeated across incidents (platforms, actions, statuses, types,
// backends, priorities) are kept once and referred to by number: a report
// over a million incidents then holds no string per incident.
class Names {
 public:
  uint32_t Id(std::string_view name) {
    auto it = ids_.find(name);
    if (it != ids_.end()) return it->second;
    names_.emplace_back(name);
    uint32_t id = static_cast<uint32_t>(names_.size() - 1);
    ids_.emplace(names_.back(), id);
    return id;
  }
  const std::string& Name(uint32_t id) const { return names_[id]; }

 private:
  std::deque<std::string> names_;  // stable addresses for the map's keys
  std::unordered_map<std::string_view, uint32_t> ids_;
};

constexpr uint32_t kNoName = UINT32_MAX;

struct Tracked {
  int64_t opened_us = 0;      // log time of incident.opened
  int64_t event_us = 0;       // first event's time
  int64_t max_risk_ppm = 0;
  int64_t resolved_us = 0;    // first move to Resolved or Closed
  int64_t assigned_us = 0;    // first move out of Open by a person or Noxys
  uint32_t platform = kNoName;
  uint32_t action = kNoName;
  uint32_t status = kNoName;  // kNoName: never moved, so Open
  uint32_t priority = kNoName;  // the rules' priority of its first ticket request
  uint32_t types_at = 0;      // its classification types: BuildReport's types[types_at, +types_count)
  uint32_t types_count = 0;
  std::vector<uint32_t> backends;  // with a ticket created
  bool has_ticket = false;
  bool breached = false;
  bool in_range = false;
  bool opened = false;
};

// Incidents by id. Ids are inc_<number>, given in order, so a vector indexed
// by the number does what a hash map would, without hashing a million
// strings (it was a quarter of a report's time); other ids go to a map.
class IncidentTable {
 public:
  Tracked& Insert(const std::string& id) {
    if (size_t n = Number(id); n != kNone) {
      if (n >= by_number_.size()) {
        by_number_.resize(n < by_number_.capacity() ? by_number_.capacity() : std::max(n + 1, by_number_.size() * 2));
      }
      by_number_[n].opened = true;
      return by_number_[n];
    }
    Tracked& t = others_[id];
    t.opened = true;
    return t;
  }
  Tracked* Find(const std::string& id) {
    if (size_t n = Number(id); n != kNone) return n < by_number_.size() && by_number_[n].opened ? &by_number_[n] : nullptr;
    auto it = others_.find(id);
    return it == others_.end() ? nullptr : &it->second;
  }
  // Room for inc_1 .. inc_<count> at once. Grown by doubling instead, the
  // table had up to twice the room it needed, and held the old copy beside
  // the new one as it grew: a report over 1M events peaked at 198 MB of
  // RSS, against 110 MB sized once.
  void Reserve(size_t count) { by_number_.reserve(count + 1); }
  template <class Fn>
  void ForEach(Fn fn) {
    for (auto& t : by_number_) {
      if (t.opened) fn(t);
    }
    for (auto& [_, t] : others_) fn(t);
  }

 private:
  static constexpr size_t kNone = static_cast<size_t>(-1);
  static size_t Number(const std::string& id) {
    uint64_t n = 0;
    return IncidentNumber(id, &n) && n < (uint64_t{1} << 32) ? static_cast<size_t>(n) : kNone;
  }
  std::vector<Tracked> by_number_;
  std::unordered_map<std::string, Tracked> others_;
};

double Mean(const std::vector<double>& v) {
  if (v.empty()) return 0;
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double Pct(uint64_t part, uint64_t whole) { return whole ? 100.0 * static_cast<double>(part) / whole : 0; }

std::string Duration(double seconds) {
  auto s = static_cast<int64_t>(std::llround(seconds));
  char buf[48];
  if (s >= 86400) {
    std::snprintf(buf, sizeof buf, "%lldd %02lldh", static_cast<long long>(s / 86400), static_cast<long long>(s % 86400 / 3600));
  } else if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%lldh %02lldm", static_cast<long long>(s / 3600), static_cast<long long>(s % 3600 / 60));
  } else if (s >= 60) {
    std::snprintf(buf, sizeof buf, "%lldm %02llds", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  }
  return buf;
}

// The value for people: a duration is also written as one.
std::string Shown(const Figure& f) {
  std::string v = FigureValue(f);
  if (f.unit == "percent") return v + " %";
  if (f.unit == "seconds") return Duration(f.value) + " (" + v + " s)";
  return v;
}

std::string DayLabel(int64_t day) { return FormatTimestamp(day * kDayUs).substr(0, 10); }

std::string RangeText(const ReportRange& r) {
  std::string from = r.since_us == INT64_MIN ? "the beginning" : FormatTimestamp(r.since_us);
  std::string to = r.until_us == INT64_MAX ? "now" : FormatTimestamp(r.until_us);
  return from + " to " + to;
}

std::string HtmlEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

std::string CsvField(const std::string& text) {
  // Names come from Noxys (platforms, classification types). One that
  // starts like a formula would run as one when the file is opened in a
  // spreadsheet; a leading ' makes it text there (OWASP's advice on CSV
  // injection).
  const bool formula = !text.empty() && text[0] != '\0' && std::strchr("=+-@\t\r", text[0]) != nullptr;
  const std::string s = formula ? "'" + text : text;
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  return out + "\"";
}

// Every section, in order, with its title.
constexpr std::pair<const char*, const char*> kSections[] = {
    {"summary", "Summary"},
    {"tickets_created", "Tickets created per backend"},
    {"mttr_by_severity", "Mean time to resolution per severity"},
    {"by_platform", "Incidents by platform"},
    {"by_severity", "Incidents by severity"},
    {"by_action", "Incidents by policy action"},
    {"by_classification", "Incidents by classification type"},
    {"sla_compliance", "SLA compliance per severity"},
    {"trend", "Incidents opened over time"}};

const char* SectionTitle(const std::string& s) {
  for (const auto& [name, title] : kSections) {
    if (s == name) return title;
  }
  return s.c_str();
}

// The sections that have figures, in ReportSections' order: the text and
// HTML leave an empty one out.
std::vector<std::string> SectionsInOrder(const Report& r) {
  std::vector<std::string> out;
  for (const auto& [name, title] : kSections) {
    if (!r.Section(name).empty()) out.emplace_back(name);
  }
  return out;
}

// A horizontal bar chart: one row per figure, scaled to the largest.
std::string BarChart(const std::vector<const Figure*>& figs, const std::string& unit_suffix) {
  double max = 0;
  for (const Figure* f : figs) max = std::max(max, f->value);
  const int row = 22, label_w = 170, bar_w = 360;
  int height = static_cast<int>(figs.size()) * row + 8;
  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(label_w + bar_w + 90) +
                    "\" height=\"" + std::to_string(height) + "\" role=\"img\">";
  int y = 4;
  for (const Figure* f : figs) {
    int w = max > 0 ? static_cast<int>(std::lround(f->value / max * bar_w)) : 0;
    svg += "<text x=\"0\" y=\"" + std::to_string(y + 15) + "\" font-size=\"13\">" + HtmlEscape(f->key) + "</text>";
    svg += "<rect x=\"" + std::to_string(label_w) + "\" y=\"" + std::to_string(y + 3) + "\" width=\"" +
           std::to_string(w) + "\" height=\"16\" fill=\"#3b6ea5\"/>";
    svg += "<text x=\"" + std::to_string(label_w + w + 6) + "\" y=\"" + std::to_string(y + 15) + "\" font-size=\"13\">" +
           FigureValue(*f) + unit_suffix + "</text>";
    y += row;
  }
  return svg + "</svg>";
}

// Vertical bars over time.
std::string TrendChart(const std::vector<const Figure*>& figs) {
  double max = 1;
  for (const Figure* f : figs) max = std::max(max, f->value);
  const int h = 160, bar = std::max(4, std::min(40, 700 / std::max<int>(1, static_cast<int>(figs.size()))));
  int width = static_cast<int>(figs.size()) * (bar + 2) + 40;
  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(width) + "\" height=\"" +
                    std::to_string(h + 40) + "\" role=\"img\">";
  int x = 30;
  for (const Figure* f : figs) {
    int bh = static_cast<int>(std::lround(f->value / max * h));
    svg += "<rect x=\"" + std::to_string(x) + "\" y=\"" + std::to_string(h - bh + 10) + "\" width=\"" +
           std::to_string(bar) + "\" height=\"" + std::to_string(bh) + "\" fill=\"#3b6ea5\"><title>" +
           HtmlEscape(f->key) + ": " + FigureValue(*f) + "</title></rect>";
    x += bar + 2;
  }
  if (!figs.empty()) {
    svg += "<text x=\"30\" y=\"" + std::to_string(h + 30) + "\" font-size=\"12\">" + HtmlEscape(figs.front()->key) +
           "</text>";
    svg += "<text x=\"" + std::to_string(std::max(30, x - 80)) + "\" y=\"" + std::to_string(h + 30) +
           "\" font-size=\"12\">" + HtmlEscape(figs.back()->key) + "</text>";
  }
  svg += "<text x=\"0\" y=\"18\" font-size=\"12\">" + std::to_string(static_cast<int64_t>(max)) + "</text>";
  return svg + "</svg>";
}

}  // namespace

const Figure* Report::Find(const std::string& section, const std::string& key) const {
  for (const auto& f : figures) {
    if (f.section == section && f.key == key) return &f;
  }
  return nullptr;
}

std::vector<const Figure*> Report::Section(const std::string& section) const {
  std::vector<const Figure*> out;
  for (const auto& f : figures) {
    if (f.section == section) out.push_back(&f);
  }
  return out;
}

std::string FigureValue(const Figure& f) {
  char buf[64];
  if (f.unit == "percent") {
    std::snprintf(buf, sizeof buf, "%.1f", f.value);
  } else {
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(std::llround(f.value)));
  }
  return buf;
}

const std::vector<std::string>& ReportSections() {
  static const std::vector<std::string> sections = [] {
    std::vector<std::string> v;
    for (const auto& [name, title] : kSections) v.emplace_back(name);
    return v;
  }();
  return sections;
}

Status BuildReport(const EventLog& log, const ReportRange& range, int64_t now_us, Report* out) {
  *out = Report{};
  out->range = range;
  out->generated_us = now_us;
  IncidentTable incidents;
  // Never more than the log has records, whatever the counter says.
  if (std::string count; log.Get(Cf::kMeta, kMetaIncidentCount, &count).ok()) {
    incidents.Reserve(std::min<uint64_t>(std::strtoull(count.c_str(), nullptr, 10), log.Head().seq));
  }
  struct RawBreach {
    std::string incident, deadline;
    int64_t due_us, at_us;
  };
  std::vector<RawBreach> raw_breaches;

  auto wanted = [](std::string_view t) {
    return t == "incident.opened" || t == "incident.recurred" || t == "ticket.status_changed" ||
           t == "incident.auto_resolved" || t == "ticket.created" || t == "sla.breached" ||
           t == "ticket.create_requested";
  };
  // Payloads are small; parsing into a reused buffer spares an allocation per
  // value for a million of them.
  unsigned char parse_buffer[4096];
  Names names;
  names.Id("");  // an absent field counts under the empty name
  const uint32_t kOpen = names.Id("Open"), kResolved = names.Id("Resolved"), kClosed = names.Id("Closed");
  std::vector<uint32_t> types;  // every incident's classification types, end to end
  Status s = log.ScanLog(1, wanted, [&](const LogRecord& r) {
    const std::string& t = r.type;
    json::monotonic_resource mr(parse_buffer, sizeof parse_buffer);
    json::error_code ec;
    json::value v = json::parse(r.payload, ec, &mr);
    if (ec || !v.is_object()) return true;
    const json::object& o = v.get_object();
    auto str = [&](const char* k) { return StrField(o, k); };
    auto num = [&](const char* k) { return IntField(o, k); };
    auto name = [&](const char* k) {
      const json::value* x = o.if_contains(k);
      return names.Id(x && x->is_string() ? std::string_view(x->get_string()) : std::string_view());
    };
    if (t == "incident.opened") {
      Tracked& inc = incidents.Insert(r.incident);
      inc.opened_us = r.time_us;
      inc.event_us = num("event_time_us");
      inc.platform = name("platform_name");
      inc.action = name("action");
      inc.max_risk_ppm = num("risk_ppm");
      inc.types_at = static_cast<uint32_t>(types.size());
      if (const json::value* ty = o.if_contains("classification_types"); ty && ty->is_array()) {
        for (const auto& x : ty->get_array()) {
          if (x.is_string()) types.push_back(names.Id(x.get_string()));
        }
      }
      inc.types_count = static_cast<uint32_t>(types.size()) - inc.types_at;
      return true;
    }
    Tracked* found = incidents.Find(r.incident);
    if (found == nullptr) return true;
    Tracked& inc = *found;
    if (t == "incident.recurred") {
      inc.max_risk_ppm = std::max(inc.max_risk_ppm, num("risk_ppm"));
    } else if (t == "ticket.status_changed" || t == "incident.auto_resolved") {
      uint32_t to = t == "incident.auto_resolved" ? kResolved : name("to");
      if (t == "ticket.status_changed" && name("from") == kOpen && to != kOpen && inc.assigned_us == 0) {
        inc.assigned_us = r.time_us;
      }
      if ((to == kResolved || to == kClosed) && inc.resolved_us == 0) inc.resolved_us = r.time_us;
      inc.status = to;
    } else if (t == "ticket.create_requested") {
      if (inc.priority == kNoName) {
        const json::value* x = o.if_contains("priority");
        if (x && x->is_string() && !x->get_string().empty()) inc.priority = names.Id(x->get_string());
      }
    } else if (t == "ticket.created") {
      inc.has_ticket = true;
      uint32_t backend = name("backend");
      if (std::find(inc.backends.begin(), inc.backends.end(), backend) == inc.backends.end()) {
        inc.backends.push_back(backend);
      }
    } else if (t == "sla.breached") {
      inc.breached = true;
      raw_breaches.push_back({r.incident, str("deadline"), num("due_us"), r.time_us});
    }
    return true;
  });
  if (!s.ok()) return s;

  // The severity the SLA applied: the rules' priority, else the risk's.
  auto severity = [&](const Tracked& inc) -> std::string {
    return inc.priority != kNoName ? names.Name(inc.priority) : SeverityName(SeverityForRisk(inc.max_risk_ppm));
  };
  uint64_t total = 0, resolved = 0, closed = 0, assigned = 0;
  std::vector<double> resolution, assignment;
  std::map<std::string, std::vector<double>> mttr;
  std::map<std::string, uint64_t> by_severity, sla_eligible, sla_breached;
  std::unordered_map<uint32_t, uint64_t> by_platform_id, by_action_id, by_type_id, per_backend_id;
  std::map<int64_t, uint64_t> per_day;
  incidents.ForEach([&](Tracked& inc) {
    if (inc.event_us < range.since_us || inc.event_us > range.until_us) return;
    inc.in_range = true;
    ++total;
    std::string sev = severity(inc);
    ++by_platform_id[inc.platform];
    ++by_severity[sev];
    ++by_action_id[inc.action];
    for (uint32_t i = 0; i < inc.types_count; ++i) ++by_type_id[types[inc.types_at + i]];
    if (inc.status == kResolved || inc.status == kClosed) ++resolved;
    if (inc.status == kClosed) ++closed;
    if (inc.resolved_us) {
      double secs = static_cast<double>(inc.resolved_us - inc.opened_us) / 1e6;
      resolution.push_back(secs);
      mttr[sev].push_back(secs);
    }
    if (inc.assigned_us) {
      ++assigned;
      assignment.push_back(static_cast<double>(inc.assigned_us - inc.opened_us) / 1e6);
    }
    for (uint32_t backend : inc.backends) ++per_backend_id[backend];
    if (inc.has_ticket) {
      ++sla_eligible[sev];
      if (inc.breached) ++sla_breached[sev];
    }
    int64_t day = inc.event_us >= 0 ? inc.event_us / kDayUs : (inc.event_us - kDayUs + 1) / kDayUs;
    ++per_day[day];
  });
  auto by_name = [&](const std::unordered_map<uint32_t, uint64_t>& counts) {
    std::map<std::string, uint64_t> m;
    for (const auto& [id, n] : counts) m[names.Name(id)] += n;
    return m;
  };
  std::map<std::string, uint64_t> by_platform = by_name(by_platform_id), by_action = by_name(by_action_id),
                                  by_type = by_name(by_type_id), per_backend = by_name(per_backend_id);

  auto add = [&](const std::string& section, const std::string& key, double value, const char* unit) {
    out->figures.push_back({section, key, value, unit});
  };
  add("summary", "incidents", static_cast<double>(total), "count");
  uint64_t ticket_total = 0;
  for (const auto& [_, n] : per_backend) ticket_total += n;
  add("summary", "tickets_created", static_cast<double>(ticket_total), "count");
  // A share of no incident is left out rather than shown as 0.0 %, which
  // would read as "none resolved", as sla_compliance leaves out a severity
  // without tickets; and a time over no incident rather than shown as 0 s,
  // which would read as "resolved at once" (mttr_by_severity does the same).
  add("summary", "resolved_or_closed", static_cast<double>(resolved), "count");
  if (total != 0) add("summary", "resolved_or_closed_pct", Pct(resolved, total), "percent");
  add("summary", "closed", static_cast<double>(closed), "count");
  if (total != 0) add("summary", "closed_pct", Pct(closed, total), "percent");
  if (!resolution.empty()) {
    add("summary", "mean_time_to_resolution", Mean(resolution), "seconds");
    add("summary", "median_time_to_resolution", Median(resolution), "seconds");
  }
  add("summary", "assigned", static_cast<double>(assigned), "count");
  if (!assignment.empty()) {
    add("summary", "mean_time_to_assignment", Mean(assignment), "seconds");
    add("summary", "median_time_to_assignment", Median(assignment), "seconds");
  }
  uint64_t breaches_in_range = 0;
  for (const auto& b : raw_breaches) breaches_in_range += incidents.Find(b.incident)->in_range;
  add("summary", "sla_breaches", static_cast<double>(breaches_in_range), "count");
  for (const auto& [backend, n] : per_backend) add("tickets_created", backend, static_cast<double>(n), "count");
  for (const char* sev : kSeverities) {
    if (auto it = mttr.find(sev); it != mttr.end()) add("mttr_by_severity", sev, Mean(it->second), "seconds");
  }
  auto by_count = [](const std::map<std::string, uint64_t>& m) {
    std::vector<std::pair<std::string, uint64_t>> v(m.begin(), m.end());
    std::stable_sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    return v;
  };
  for (const auto& [k, n] : by_count(by_platform)) add("by_platform", k, static_cast<double>(n), "count");
  for (const char* sev : kSeverities) {
    if (by_severity.count(sev)) add("by_severity", sev, static_cast<double>(by_severity[sev]), "count");
  }
  for (const auto& [k, n] : by_count(by_action)) add("by_action", k, static_cast<double>(n), "count");
  for (const auto& [k, n] : by_count(by_type)) add("by_classification", k, static_cast<double>(n), "count");
  for (const char* sev : kSeverities) {
    if (!sla_eligible.count(sev)) continue;
    uint64_t e = sla_eligible[sev], b = sla_breached[sev];
    add("sla_compliance", sev, Pct(e - b, e), "percent");
  }

  // Trend: per day when the incidents span a month or less, per week (weeks
  // start on Monday) up to two years, per month up to twenty, else per year,
  // so the chart keeps at most about 240 bars however far apart the events'
  // own times are (a reporter's clock at 1970 or 0001 is not unheard of);
  // empty buckets are shown as 0.
  if (!per_day.empty()) {
    const int64_t first = per_day.begin()->first, last = per_day.rbegin()->first;
    enum Unit { kDay, kWeek, kMonth, kYear };
    const Unit unit = last - first <= 31 ? kDay : last - first <= 731 ? kWeek : last - first <= 7305 ? kMonth : kYear;
    out->trend_unit = unit == kDay ? "day" : unit == kWeek ? "week" : unit == kMonth ? "month" : "year";
    namespace chr = std::chrono;
    auto civil = [](int64_t day) { return chr::year_month_day{chr::sys_days{chr::days{day}}}; };
    auto bucket = [&](int64_t day) -> int64_t {
      switch (unit) {
        case kDay: return day;
        case kWeek: return day - ((day % 7 + 7 + 3) % 7);  // day 0 was a Thursday
        case kMonth: {
          auto ymd = civil(day);
          return int64_t{int(ymd.year())} * 12 + unsigned(ymd.month()) - 1;
        }
        case kYear: return int(civil(day).year());
      }
      return day;
    };
    auto label = [&](int64_t b) {
      char text[48];
      switch (unit) {
        case kDay:
        case kWeek: return DayLabel(b);
        case kMonth:
          std::snprintf(text, sizeof text, "%04lld-%02lld", static_cast<long long>(b >= 0 ? b / 12 : (b - 11) / 12),
                        static_cast<long long>((b % 12 + 12) % 12 + 1));
          return std::string(text);
        case kYear: std::snprintf(text, sizeof text, "%04lld", static_cast<long long>(b)); return std::string(text);
      }
      return DayLabel(b);
    };
    std::map<int64_t, uint64_t> buckets;
    for (int64_t b = bucket(first); b <= bucket(last); b += unit == kWeek ? 7 : 1) buckets[b] = 0;
    for (const auto& [day, n] : per_day) buckets[bucket(day)] += n;
    for (const auto& [b, n] : buckets) add("trend", label(b), static_cast<double>(n), "count");
  }

  for (const auto& b : raw_breaches) {
    const Tracked& inc = *incidents.Find(b.incident);
    if (!inc.in_range) continue;
    out->breaches.push_back({b.incident, severity(inc), b.deadline, b.due_us, b.at_us});
  }
  std::sort(out->breaches.begin(), out->breaches.end(), [](const SlaBreachRow& a, const SlaBreachRow& b) {
    return a.due_us != b.due_us ? a.due_us < b.due_us : a.incident < b.incident;
  });
  return Status::Ok();
}

std::string ReportText(const Report& r) {
  std::string out = "noxsync report: incidents first seen from " + RangeText(r.range) + "\n";
  out += "generated " + FormatTimestamp(r.generated_us) + " from the event log\n";
  for (const auto& section : SectionsInOrder(r)) {
    std::string title = SectionTitle(section);
    if (section == "trend") title += " (per " + r.trend_unit + ")";
    out += "\n" + title + "\n";
    for (const Figure* f : r.Section(section)) {
      // Names come from Noxys: shown escaped, and whole however long (a
      // fixed buffer cut a 250-byte platform name and the line's end with it).
      std::string key = PrintableText(f->key);
      if (key.size() < 28) key.resize(28, ' ');
      out += "  " + key + " " + Shown(*f) + "\n";
    }
  }
  out += "\nSLA breaches\n";
  if (r.breaches.empty()) out += "  none\n";
  for (const auto& b : r.breaches) {
    out += "  " + b.incident + "  " + b.severity + " " + b.deadline + " deadline " + FormatTimestamp(b.due_us) +
           ", recorded " + FormatTimestamp(b.recorded_us) + "\n";
  }
  return out;
}

std::string ReportJson(const Report& r) {
  // Every section, even one without figures: a dashboard reading
  // by_platform over an empty range finds it empty, not missing.
  std::string out = "{\"range\":{\"since\":";
  out += r.range.since_us == INT64_MIN ? "null" : "\"" + FormatTimestamp(r.range.since_us) + "\"";
  out += ",\"until\":";
  out += r.range.until_us == INT64_MAX ? "null" : "\"" + FormatTimestamp(r.range.until_us) + "\"";
  out += "},\"generated\":\"" + FormatTimestamp(r.generated_us) + "\",\"trend_unit\":\"" + r.trend_unit + "\"";
  for (const auto& section : ReportSections()) {
    out += ",\"" + section + "\":{";
    bool first = true;
    for (const Figure* f : r.Section(section)) {
      out += (first ? "" : ",") + json::serialize(json::string(f->key)) + ":" + FigureValue(*f);
      first = false;
    }
    out += "}";
  }
  out += ",\"sla_breaches\":[";
  for (size_t i = 0; i < r.breaches.size(); ++i) {
    const auto& b = r.breaches[i];
    out += (i ? "," : "") + std::string("{\"incident\":\"") + b.incident + "\",\"severity\":\"" + b.severity +
           "\",\"deadline\":\"" + b.deadline + "\",\"due\":\"" + FormatTimestamp(b.due_us) + "\",\"recorded\":\"" +
           FormatTimestamp(b.recorded_us) + "\"}";
  }
  return out + "]}\n";
}

std::string ReportCsv(const Report& r) {
  std::string out = "section,key,value,unit\n";
  for (const auto& f : r.figures) {
    out += CsvField(f.section) + "," + CsvField(f.key) + "," + FigureValue(f) + "," + f.unit + "\n";
  }
  for (const auto& b : r.breaches) {
    out += "sla_breach," + CsvField(b.incident) + "," + CsvField(b.severity + " " + b.deadline + " due " +
                                                                FormatTimestamp(b.due_us)) + ",text\n";
  }
  return out;
}

std::string ReportHtml(const Report& r) {
  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>noxsync report</title>\n"
      "<style>body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin-bottom:1.5em}"
      "td,th{border-bottom:1px solid #ddd;padding:3px 12px;text-align:left}td.n{text-align:right}"
      "h2{margin-top:1.6em;font-size:1.15em}</style></head><body>\n";
  out += "<h1>noxsync report</h1>\n<p>Incidents first seen from " + HtmlEscape(RangeText(r.range)) + ". Generated " +
         FormatTimestamp(r.generated_us) + " from the event log.</p>\n";
  for (const auto& section : SectionsInOrder(r)) {
    std::string title = SectionTitle(section);
    if (section == "trend") title += " (per " + r.trend_unit + ")";
    out += "<h2>" + HtmlEscape(title) + "</h2>\n";
    auto figs = r.Section(section);
    if (section == "trend") out += TrendChart(figs) + "\n";
    if (section == "by_platform" || section == "by_severity") out += BarChart(figs, "") + "\n";
    out += "<table>\n";
    for (const Figure* f : figs) {
      out += "<tr><th>" + HtmlEscape(f->key) + "</th><td class=\"n\" data-value=\"" + FigureValue(*f) + "\">" +
             HtmlEscape(Shown(*f)) + "</td></tr>\n";
    }
    out += "</table>\n";
  }
  out += "<h2>SLA breaches</h2>\n<table>\n<tr><th>Incident</th><th>Severity</th><th>Deadline</th><th>Due</th></tr>\n";
  for (const auto& b : r.breaches) {
    out += "<tr><td>" + HtmlEscape(b.incident) + "</td><td>" + b.severity + "</td><td>" + b.deadline + "</td><td>" +
           FormatTimestamp(b.due_us) + "</td></tr>\n";
  }
  return out + "</table>\n</body></html>\n";
}

}  // namespace noxsync
