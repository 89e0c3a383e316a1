// The report against a fixture whose figures were worked out by hand, and
// the four formats against each other.
#include "sync/report.h"

#include <regex>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "sync/clock.h"
#include "sync/ingestor.h"
#include "sync/timestamp.h"
#include "tests/temp_dir.h"

namespace noxsync {
namespace {

int64_t At(const char* t) {
  int64_t us = 0;
  EXPECT_TRUE(ParseTimestamp(t, &us)) << t;
  return us;
}

std::string Event(const std::string& id, const std::string& time, const std::string& platform, double risk,
                  const std::string& action, const std::string& types_json) {
  return R"({"event_id":")" + id + R"(","timestamp":")" + time + R"(","platform_id":")" + platform +
         R"(","platform_name":")" + platform + R"(","user_email":")" + id + R"(@acme.fr","risk_score":)" +
         std::to_string(risk) + R"(,"classifications":)" + types_json +
         R"(,"policy_decisions":{"action":")" + action + R"(","policy_id":"p","policy_name":"n"}})";
}

// Four incidents, opened (log time) at T0:
//   inc_1 ChatGPT BLOCK EMAIL 0.95 Critical: Jira and ServiceNow tickets;
//         jira moves it to In Progress at +30 min, Resolved at +2 h.
//   inc_2 Claude COACH IBAN 0.75, rules: High; Jira ticket; response SLA
//         breached at +4 h; auto-resolved at +24 h.
//   inc_3 ChatGPT BLOCK CREDIT_CARD+EMAIL 0.55, rules: Medium; Jira ticket;
//         Noxys closes it (Open -> Closed) at +1 h.
//   inc_4 Gemini ALLOW NAME 0.30 Low: no ticket, still Open.
// Event times: inc_1, inc_2 on 2026-03-20; inc_3 on 03-21; inc_4 on 03-22.
class ReportTest : public ::testing::Test {
 protected:
  ReportTest() {
    auto log = EventLog::OpenForWrite(dir_.Sub("store"));
    EXPECT_TRUE(log.ok());
    log_ = std::move(log).value();
    Ingestor ingestor(log_.get(), &clock_);
    std::vector<IngestLine> lines = {
        {Event("e1", "2026-03-20T09:00:00Z", "ChatGPT", 0.95, "BLOCK", R"([{"type":"EMAIL","value":"x","confidence":0.9}])"), 1, ""},
        {Event("e2", "2026-03-20T10:00:00Z", "Claude", 0.75, "COACH", R"([{"type":"IBAN","value":"x","confidence":0.9}])"), 2, ""},
        {Event("e3", "2026-03-21T11:00:00Z", "ChatGPT", 0.55, "BLOCK",
               R"([{"type":"CREDIT_CARD","value":"x","confidence":0.9},{"type":"EMAIL","value":"y","confidence":0.9}])"), 3, ""},
        {Event("e4", "2026-03-22T12:00:00Z", "Gemini", 0.30, "ALLOW", R"([{"type":"NAME","value":"x","confidence":0.9}])"), 4, ""},
    };
    std::vector<IngestResult> results;
    EXPECT_TRUE(ingestor.Ingest(lines, "fixture", &results).ok());
    const int64_t t0 = clock_.NowMicros();
    Rec(t0, "ticket.create_requested", "inc_00000001", R"({"backend":"jira","priority":"Critical"})");
    Rec(t0, "ticket.created", "inc_00000001", R"({"backend":"jira","key":"SEC-1"})");
    Rec(t0, "ticket.created", "inc_00000001", R"({"backend":"servicenow","key":"INC0000001"})");
    Rec(t0, "ticket.create_requested", "inc_00000002", R"({"backend":"jira","priority":"High"})");
    Rec(t0, "ticket.created", "inc_00000002", R"({"backend":"jira","key":"SEC-2"})");
    Rec(t0, "ticket.create_requested", "inc_00000003", R"({"backend":"jira","priority":"Medium"})");
    Rec(t0, "ticket.created", "inc_00000003", R"({"backend":"jira","key":"SEC-3"})");
    Rec(t0 + 1'800'000'000, "ticket.status_changed", "inc_00000001",
        R"({"source":"jira","from":"Open","to":"In Progress"})");
    Rec(t0 + 3'600'000'000, "ticket.status_changed", "inc_00000003", R"({"source":"noxys","from":"Open","to":"Closed"})");
    Rec(t0 + 7'200'000'000, "ticket.status_changed", "inc_00000001",
        R"({"source":"jira","from":"In Progress","to":"Resolved"})");
    Rec(t0 + 4 * 3'600'000'000LL, "sla.breached", "inc_00000002",
        R"({"deadline":"response","priority":"High","due_us":)" + std::to_string(t0 + 4 * 3'600'000'000LL) + "}");
    Rec(t0 + 24 * 3'600'000'000LL, "incident.auto_resolved", "inc_00000002", R"({"from":"Open","reason":"quiet"})");
  }

  void Rec(int64_t at, const char* type, const char* incident, const std::string& payload) {
    Step step;
    step.records.push_back({at, type, incident, payload});
    ASSERT_TRUE(log_->Append(std::move(step)).ok());
  }

  double Value(const Report& r, const char* section, const char* key) {
    const Figure* f = r.Find(section, key);
    EXPECT_NE(f, nullptr) << section << "." << key;
    return f ? f->value : -1;
  }

  testing::TempDir dir_;
  ManualClock clock_{At("2026-11-01T08:00:00Z")};
  std::unique_ptr<EventLog> log_;
};

TEST_F(ReportTest, FiguresMatchTheHandComputedOnes) {
  Report r;
  ASSERT_TRUE(BuildReport(*log_, {}, At("2026-11-05T00:00:00Z"), &r).ok());
  EXPECT_EQ(Value(r, "summary", "incidents"), 4);
  EXPECT_EQ(Value(r, "summary", "tickets_created"), 4);
  EXPECT_EQ(Value(r, "tickets_created", "jira"), 3);
  EXPECT_EQ(Value(r, "tickets_created", "servicenow"), 1);
  EXPECT_EQ(Value(r, "summary", "resolved_or_closed"), 3);
  EXPECT_DOUBLE_EQ(Value(r, "summary", "resolved_or_closed_pct"), 75.0);
  EXPECT_DOUBLE_EQ(Value(r, "summary", "closed_pct"), 25.0);
  // Resolution: 2 h, 24 h, 1 h -> mean 9 h, median 2 h.
  EXPECT_DOUBLE_EQ(Value(r, "summary", "mean_time_to_resolution"), 32400);
  EXPECT_DOUBLE_EQ(Value(r, "summary", "median_time_to_resolution"), 7200);
  EXPECT_DOUBLE_EQ(Value(r, "mttr_by_severity", "Critical"), 7200);
  EXPECT_DOUBLE_EQ(Value(r, "mttr_by_severity", "High"), 86400);
  EXPECT_DOUBLE_EQ(Value(r, "mttr_by_severity", "Medium"), 3600);
  EXPECT_EQ(r.Find("mttr_by_severity", "Low"), nullptr);
  // Assignment: 30 min and 1 h; the auto-resolve is no assignment.
  EXPECT_EQ(Value(r, "summary", "assigned"), 2);
  EXPECT_DOUBLE_EQ(Value(r, "summary", "mean_time_to_assignment"), 2700);
  EXPECT_DOUBLE_EQ(Value(r, "summary", "median_time_to_assignment"), 2700);
  EXPECT_EQ(Value(r, "by_platform", "ChatGPT"), 2);
  EXPECT_EQ(Value(r, "by_platform", "Claude"), 1);
  EXPECT_EQ(Value(r, "by_platform", "Gemini"), 1);
  for (const char* sev : {"Critical", "High", "Medium", "Low"}) EXPECT_EQ(Value(r, "by_severity", sev), 1) << sev;
  EXPECT_EQ(Value(r, "by_action", "BLOCK"), 2);
  EXPECT_EQ(Value(r, "by_action", "COACH"), 1);
  EXPECT_EQ(Value(r, "by_action", "ALLOW"), 1);
  EXPECT_EQ(Value(r, "by_classification", "EMAIL"), 2);
  EXPECT_EQ(Value(r, "by_classification", "IBAN"), 1);
  EXPECT_EQ(Value(r, "by_classification", "CREDIT_CARD"), 1);
  EXPECT_EQ(Value(r, "by_classification", "NAME"), 1);
  // SLA: only incidents with tickets count; inc_2 (High) breached.
  EXPECT_DOUBLE_EQ(Value(r, "sla_compliance", "Critical"), 100.0);
  EXPECT_DOUBLE_EQ(Value(r, "sla_compliance", "High"), 0.0);
  EXPECT_DOUBLE_EQ(Value(r, "sla_compliance", "Medium"), 100.0);
  EXPECT_EQ(r.Find("sla_compliance", "Low"), nullptr);
  EXPECT_EQ(Value(r, "summary", "sla_breaches"), 1);
  ASSERT_EQ(r.breaches.size(), 1u);
  EXPECT_EQ(r.breaches[0].incident, "inc_00000002");
  EXPECT_EQ(r.breaches[0].severity, "High");
  EXPECT_EQ(r.trend_unit, "day");
  EXPECT_EQ(Value(r, "trend", "2026-03-20"), 2);
  EXPECT_EQ(Value(r, "trend", "2026-03-21"), 1);
  EXPECT_EQ(Value(r, "trend", "2026-03-22"), 1);
}

TEST_F(ReportTest, TheRangeSelectsIncidentsByTheirFirstEvent) {
  Report r;
  ReportRange range{At("2026-03-21"), At("2026-03-21T23:59:59Z")};
  ASSERT_TRUE(BuildReport(*log_, range, At("2026-11-05T00:00:00Z"), &r).ok());
  EXPECT_EQ(Value(r, "summary", "incidents"), 1);
  EXPECT_EQ(Value(r, "summary", "closed"), 1);
  EXPECT_EQ(Value(r, "tickets_created", "jira"), 1);
  EXPECT_EQ(Value(r, "summary", "sla_breaches"), 0);
  EXPECT_TRUE(r.breaches.empty());
}

// The JSON has every section whatever the range holds, so a reader finds
// an empty one rather than a missing one.
TEST_F(ReportTest, TheJsonHasEverySectionEvenOverAnEmptyRange) {
  Report r;
  ASSERT_TRUE(BuildReport(*log_, {At("2030-01-01"), INT64_MAX}, At("2030-02-01T00:00:00Z"), &r).ok());
  boost::json::value j = boost::json::parse(ReportJson(r));
  ASSERT_EQ(ReportSections().size(), 9u);
  for (const auto& section : ReportSections()) EXPECT_TRUE(j.at(section).is_object()) << section;
  EXPECT_TRUE(j.at("by_platform").as_object().empty());
  EXPECT_EQ(j.at("summary").at("incidents").to_number<int64_t>(), 0);
  // No incident resolved or assigned: no time for either, rather than 0 s;
  // and no incident: no share of them, rather than 0.0 %.
  for (const char* key : {"mean_time_to_resolution", "median_time_to_resolution", "mean_time_to_assignment",
                          "median_time_to_assignment", "resolved_or_closed_pct", "closed_pct"}) {
    EXPECT_FALSE(j.at("summary").as_object().contains(key)) << key;
    EXPECT_EQ(ReportText(r).find(key), std::string::npos) << key;
  }
  EXPECT_EQ(j.at("summary").at("assigned").to_number<int64_t>(), 0);
  EXPECT_TRUE(j.at("sla_breaches").as_array().empty());
}

TEST_F(ReportTest, EveryFormatShowsTheSameNumbers) {
  Report r;
  ASSERT_TRUE(BuildReport(*log_, {}, At("2026-11-05T00:00:00Z"), &r).ok());
  std::string text = ReportText(r), csv = ReportCsv(r), html = ReportHtml(r);
  boost::json::value j = boost::json::parse(ReportJson(r));
  ASSERT_FALSE(r.figures.empty());
  for (const Figure& f : r.figures) {
    std::string v = FigureValue(f);
    // JSON: the same number under section.key.
    const boost::json::value& x = j.at(f.section).at(f.key);
    EXPECT_DOUBLE_EQ(x.is_double() ? x.get_double() : static_cast<double>(x.to_number<int64_t>()), std::stod(v))
        << f.section << "." << f.key;
    EXPECT_NE(csv.find(f.section + "," + f.key + "," + v + "," + f.unit + "\n"), std::string::npos) << f.key;
    EXPECT_NE(html.find("<th>" + f.key + "</th><td class=\"n\" data-value=\"" + v + "\">"), std::string::npos) << f.key;
    std::regex line("\n  " + f.key + " +" + (f.unit == "seconds" ? ".*\\(" + v + " s\\)" : v + (f.unit == "percent" ? " %" : "")) + "\n");
    EXPECT_TRUE(std::regex_search(text, line)) << f.section << "." << f.key << " = " << v << "\n" << text;
  }
  // HTML: one file, charts inline, nothing fetched, no script.
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  for (size_t at = html.find("http"); at != std::string::npos; at = html.find("http", at + 1)) {
    EXPECT_EQ(html.compare(at, 26, "http://www.w3.org/2000/svg"), 0) << html.substr(at, 40);  // the SVG namespace only
  }
  EXPECT_EQ(html.find("https://"), std::string::npos);
}

TEST(ReportCsv, ANameThatStartsLikeAFormulaIsWrittenAsText) {
  Report r;
  r.figures.push_back({"by_classification", "=HYPERLINK(\"http://x\",\"y\")", 1, "count"});
  r.figures.push_back({"by_platform", "@SUM(A1)", 2, "count"});
  r.figures.push_back({"by_platform", "Chat-GPT", 3, "count"});
  std::string csv = ReportCsv(r);
  EXPECT_NE(csv.find("by_classification,\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\",1,count\n"), std::string::npos) << csv;
  EXPECT_NE(csv.find("by_platform,'@SUM(A1),2,count\n"), std::string::npos) << csv;
  EXPECT_NE(csv.find("by_platform,Chat-GPT,3,count\n"), std::string::npos) << csv;
}

// However far apart the events' own times are, the trend keeps a chart's
// worth of buckets: a reporter whose clock said 0001 made a weekly trend of
// 105,000 rows before.
TEST(ReportTrend, TheUnitGrowsWithTheSpanOfTheIncidents) {
  struct Case {
    std::vector<const char*> times;
    const char* unit;
    size_t buckets;
    const char* first;
    const char* last;
  };
  const std::vector<Case> cases = {
      {{"2026-03-01T10:00:00Z", "2026-03-15T10:00:00Z", "2026-04-01T10:00:00Z"}, "day", 32, "2026-03-01", "2026-04-01"},
      // 731 days, Wednesday to Saturday: weeks labelled by their Monday.
      {{"2024-03-06T10:00:00Z", "2026-03-07T10:00:00Z"}, "week", 105, "2024-03-04", "2026-03-02"},
      {{"2024-03-04T10:00:00Z", "2024-12-31T23:00:00Z", "2026-03-06T10:00:00Z"}, "month", 25, "2024-03", "2026-03"},
      {{"2006-03-20T10:00:00Z", "2026-03-20T10:00:00Z"}, "month", 241, "2006-03", "2026-03"},
      {{"2006-03-19T10:00:00Z", "2026-03-20T10:00:00Z"}, "year", 21, "2006", "2026"},
      {{"0001-01-01T00:00:00Z", "1970-01-01T00:00:00Z", "2026-03-20T10:00:00Z"}, "year", 2026, "0001", "2026"},
  };
  for (const Case& c : cases) {
    testing::TempDir dir;
    auto log = EventLog::OpenForWrite(dir.Sub("store"));
    ASSERT_TRUE(log.ok());
    ManualClock clock(At("2026-11-01T08:00:00Z"));
    Ingestor ingestor(log->get(), &clock);
    std::vector<IngestLine> lines;
    for (size_t i = 0; i < c.times.size(); ++i) {
      lines.push_back({Event("e" + std::to_string(i), c.times[i], "ChatGPT", 0.9, "BLOCK",
                             R"([{"type":"EMAIL","value":"x","confidence":0.9}])"),
                       i + 1, ""});
    }
    std::vector<IngestResult> results;
    ASSERT_TRUE(ingestor.Ingest(lines, "fixture", &results).ok());
    for (const auto& r : results) ASSERT_EQ(r.kind, IngestResult::Kind::kAccepted) << c.unit << ": " << r.error;
    Report r;
    ASSERT_TRUE(BuildReport(**log, {}, At("2026-11-05T00:00:00Z"), &r).ok());
    EXPECT_EQ(r.trend_unit, c.unit) << c.first;
    auto trend = r.Section("trend");
    ASSERT_EQ(trend.size(), c.buckets) << c.first;
    EXPECT_EQ(trend.front()->key, c.first);
    EXPECT_EQ(trend.back()->key, c.last);
    double sum = 0;
    for (const Figure* f : trend) sum += f->value;
    EXPECT_EQ(sum, static_cast<double>(c.times.size())) << c.first;
    EXPECT_EQ(trend.front()->value, 1) << c.first;
    EXPECT_EQ(trend.back()->value, 1) << c.first;
  }
}

}  // namespace
}  // namespace noxsync
