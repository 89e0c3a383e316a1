#include "adapters/jira/jira_backend.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>
#include <set>

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "adapters/http/http_client.h"
#include "adapters/http/reply_reader.h"
#include "adapters/jira/adf.h"
#include "store/utf8.h"
#include "sync/time_zone.h"
#include "sync/timestamp.h"

namespace noxsync::jira {

namespace json = boost::json;

bool ParseJiraTime(std::string_view s, int64_t* micros) {
  // yyyy-MM-ddTHH:mm:ss.SSS+hhmm: RFC 3339 but for the colon in the offset.
  if (s.size() >= 5) {
    char sign = s[s.size() - 5];
    if ((sign == '+' || sign == '-') && s.find(':', s.size() - 5) == std::string_view::npos) {
      std::string fixed(s);
      fixed.insert(fixed.size() - 2, ":");
      return ParseTimestamp(fixed, micros);
    }
  }
  return ParseTimestamp(s, micros);
}

std::string JqlQuote(std::string_view v) {
  std::string out = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

namespace {

constexpr const char* kIncidentLabelPrefix = "noxys-inc-";
constexpr const char* kTicketFields = "status,updated,labels,priority";

const char* CategoryFor(IncidentStatus s) {
  switch (s) {
    case IncidentStatus::kOpen: return "new";
    case IncidentStatus::kInProgress: return "indeterminate";
    case IncidentStatus::kResolved:
    case IncidentStatus::kClosed: return "done";
  }
  return "new";
}

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// "EMAIL, IBAN" -> {"EMAIL", "IBAN"}: a rendered list for an array field.
std::vector<std::string> SplitList(std::string_view text) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i <= text.size()) {
    size_t j = std::min(text.find(',', i), text.size());
    std::string_view part = text.substr(i, j - i);
    while (!part.empty() && std::isspace(static_cast<unsigned char>(part.front()))) part.remove_prefix(1);
    while (!part.empty() && std::isspace(static_cast<unsigned char>(part.back()))) part.remove_suffix(1);
    if (!part.empty()) out.emplace_back(part);
    i = j + 1;
  }
  return out;
}

using Reader = http::ReplyReader;

std::string JiraMessages(const std::string& body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  std::string out;
  if (ec || !v.is_object()) return out;
  if (const json::value* msgs = v.get_object().if_contains("errorMessages"); msgs && msgs->is_array()) {
    for (const auto& m : msgs->get_array()) {
      if (m.is_string()) out += (out.empty() ? "" : "; ") + std::string(m.get_string());
    }
  }
  if (const json::value* errs = v.get_object().if_contains("errors"); errs && errs->is_object()) {
    for (const auto& kv : errs->get_object()) {
      if (kv.value().is_string()) {
        out += (out.empty() ? "" : "; ") + std::string(kv.key()) + ": " + std::string(kv.value().get_string());
      }
    }
  }
  return out;
}

class JiraBackend final : public Backend {
 public:
  JiraBackend(JiraConfig config, std::unique_ptr<http::HttpClient> client)
      : c_(std::move(config)), http_(std::move(client)) {
    api_ = "/rest/api/" + std::to_string(c_.api_version);
    switch (c_.auth) {
      case AuthKind::kApiToken:
      case AuthKind::kPassword: auth_header_ = http::BasicAuth(c_.user, c_.secret); break;
      case AuthKind::kAccessToken: auth_header_ = "Bearer " + c_.secret.reveal(); break;
    }
  }

  std::string_view name() const override { return "jira"; }

  Result<ConnectionReport> TestConnection() override;
  Result<std::optional<Ticket>> FindByIncident(std::string_view incident_id) override;
  Result<Ticket> Create(const NewTicket& ticket) override;
  Result<Ticket> Get(std::string_view key) override;
  Result<TicketPage> ChangedSince(int64_t since_us, std::string_view page_token) override;
  Result<Ticket> MoveTo(std::string_view key, IncidentStatus target) override;
  Status AddComment(std::string_view key, const Comment& comment) override;
  Result<Ticket> SetPriority(std::string_view key, Severity severity) override;

 private:
  struct Reply {
    Status status;
    json::value body;
  };
  // Sends and parses. `expect` is the success status; anything else becomes
  // a Status for people. `what` names the call in messages and logs.
  Reply Call(const std::string& method, const std::string& path_and_query, const std::string& what, int expect,
             const json::value* body = nullptr);
  Status FromHttp(const http::Outcome& out, const std::string& what);
  Result<Ticket> ParseTicket(const json::value& issue, const std::string& what);
  Result<TicketPage> Search(const std::string& jql, std::string_view page_token, int max_results);
  Result<TimeZone> UserTimeZone();
  Result<json::value> AssigneeFor(const std::string& who);
  IncidentStatus MapStatus(const std::string& name, const std::string& category) const;
  // A field of the Jira site (GET /field), for mapping by name and typing
  // values: `type` is the schema type ("string", "number", "option",
  // "array"...), `items` the element type of an array.
  struct Field {
    std::string id, name, type, items;
    bool custom = false;
  };
  Result<std::vector<Field>> Fields();
  // The custom field id and JSON value for one field_mapping entry. *skip
  // when the site has no custom field by that name (warned once).
  Status MapField(const std::string& name, const std::string& value_json, std::string* id, json::value* value,
                  bool* skip);

  JiraConfig c_;
  std::unique_ptr<http::HttpClient> http_;
  std::string api_;
  std::string auth_header_;
  std::mutex mu_;  // guards the caches below
  std::optional<TimeZone> tz_;
  std::map<std::string, std::string> assignee_cache_;  // e-mail -> account id / username
  std::optional<std::vector<Field>> fields_;
  std::set<std::string> missing_fields_warned_;
};

Status JiraBackend::FromHttp(const http::Outcome& out, const std::string& what) {
  if (!out.ok()) {
    return Status::Unavailable("cannot reach Jira for " + what + " (" + http::FailureName(out.failure) +
                               "): " + out.error);
  }
  int s = out.response.status;
  std::string detail = JiraMessages(out.response.body);
  std::string suffix = detail.empty() ? "" : ": " + detail;
  std::string head = "Jira refused " + what + " (HTTP " + std::to_string(s) + ")";
  switch (s) {
    case 401:
      return Status::Unauthenticated(
          "Jira rejected the credentials of " + c_.Who() + " (HTTP 401) for " + what + "; " +
          (c_.auth == AuthKind::kApiToken
               ? "check backends.jira.email and api_token: Jira Cloud needs an API token from "
                 "https://id.atlassian.com/manage-profile/security/api-tokens, not the password"
               : "check the Data Center username and password or personal access token"));
    case 403:
      return Status::PermissionDenied(head + suffix + "; grant " + c_.Who() + " the right in project " + c_.project +
                                      "'s permission scheme");
    case 404: return Status::NotFound(head + suffix);
    case 400:
    case 409:
    case 422: return Status::InvalidArgument(head + suffix);
    default:
      if (s == 429 || s >= 500) {
        return Status::Unavailable("Jira is unavailable for " + what + ": HTTP " + std::to_string(s) + " after " +
                                   std::to_string(out.attempts) + " attempt(s)" + suffix);
      }
      return Status::Unavailable(head + suffix);
  }
}

JiraBackend::Reply JiraBackend::Call(const std::string& method, const std::string& path, const std::string& what,
                                     int expect, const json::value* body) {
  http::Request req;
  req.method = method;
  req.url = c_.base_url + path;
  req.what = what;
  req.headers.push_back({"Authorization", auth_header_});
  req.headers.push_back({"Accept", "application/json"});
  if (body) {
    req.headers.push_back({"Content-Type", "application/json"});
    req.body = json::serialize(*body);
  }
  http::Outcome out = http_->Send(req);
  Reply r;
  if (!out.ok() || out.response.status != expect) {
    r.status = FromHttp(out, what);
    return r;
  }
  if (out.response.body.empty()) return r;  // 204
  boost::system::error_code ec;
  r.body = json::parse(out.response.body, ec);
  if (ec) {
    r.status = Status::Unavailable("Jira's reply to " + what + " is not valid JSON (" + ec.message() +
                                   "); is base_url Jira's own address, not a login or proxy page?");
  }
  return r;
}

IncidentStatus JiraBackend::MapStatus(const std::string& name, const std::string& category) const {
  for (IncidentStatus s : {IncidentStatus::kOpen, IncidentStatus::kInProgress, IncidentStatus::kResolved,
                           IncidentStatus::kClosed}) {
    auto it = c_.statuses.find(s);
    if (it != c_.statuses.end() && IEquals(it->second, name)) return s;
  }
  if (category == "done") return IncidentStatus::kResolved;
  if (category == "indeterminate") return IncidentStatus::kInProgress;
  return IncidentStatus::kOpen;
}

Result<Ticket> JiraBackend::ParseTicket(const json::value& issue, const std::string& what) {
  Reader r("Jira", what);
  const json::object* o = r.Obj(&issue, "an issue");
  Ticket t;
  t.key = r.Str(o, "key", "key");
  t.id = r.Str(o, "id", "id");
  const json::object* fields = r.Child(o, "fields", "fields");
  const json::object* status = r.Child(fields, "status", "fields.status");
  t.raw_status = r.Str(status, "name", "fields.status.name");
  std::string category = r.Str(r.Child(status, "statusCategory", "fields.status.statusCategory"), "key",
                               "fields.status.statusCategory.key");
  t.version = r.Str(fields, "updated", "fields.updated");
  if (!r.failed() && !ParseJiraTime(t.version, &t.updated_us)) r.Fail("fields.updated", "a date-time");
  if (const json::array* labels = r.Arr(fields, "labels", "fields.labels")) {
    for (const auto& l : *labels) {
      if (!l.is_string()) {
        r.Fail("fields.labels[]", "a string");
        break;
      }
      std::string_view label = l.get_string();
      if (label.rfind(kIncidentLabelPrefix, 0) == 0) t.incident_id = std::string(label.substr(10));
    }
  }
  if (fields) {
    // Priority may be switched off in a Jira instance: null or absent is fine.
    if (const json::value* p = fields->if_contains("priority"); p && !p->is_null()) {
      t.priority = r.Str(r.Obj(p, "fields.priority"), "name", "fields.priority.name");
    }
  }
  if (r.failed()) return Status::Unavailable(r.error());
  t.status = MapStatus(t.raw_status, category);
  t.url = c_.base_url + "/browse/" + t.key;
  return t;
}

Result<TimeZone> JiraBackend::UserTimeZone() {
  {
    std::lock_guard lock(mu_);
    if (tz_) return *tz_;
  }
  std::string what = "GET " + api_ + "/myself";
  Reply r = Call("GET", api_ + "/myself", what, 200);
  if (!r.status.ok()) return r.status;
  Reader rd("Jira", what);
  std::string zone = rd.Str(rd.Obj(&r.body, "an object"), "timeZone", "timeZone");
  if (rd.failed()) return Status::Unavailable(rd.error());
  auto tz = TimeZone::Load(zone);
  if (!tz.ok()) {
    return Status::FailedPrecondition("the Jira user " + c_.Who() + " has time zone \"" + zone +
                                      "\", which this machine does not know: " + tz.status().message());
  }
  std::lock_guard lock(mu_);
  tz_ = *tz;
  return *tz_;
}

Result<ConnectionReport> JiraBackend::TestConnection() {
  ConnectionReport report;
  std::string what = "GET " + api_ + "/myself";
  Reply me = Call("GET", api_ + "/myself", what, 200);
  if (!me.status.ok()) return me.status;
  Reader rd("Jira", what);
  const json::object* mo = rd.Obj(&me.body, "an object");
  std::string zone = rd.Str(mo, "timeZone", "timeZone");
  if (rd.failed()) return Status::Unavailable(rd.error());
  std::string display, email;
  if (mo) {
    if (auto* v = mo->if_contains("displayName"); v && v->is_string()) display = v->get_string();
    if (auto* v = mo->if_contains("emailAddress"); v && v->is_string()) email = v->get_string();
  }
  report.user = !email.empty() ? email : (!display.empty() ? display : c_.Who());
  auto tz = TimeZone::Load(zone);
  if (!tz.ok()) {
    return Status::FailedPrecondition("the Jira user " + report.user + " has time zone \"" + zone +
                                      "\", which this machine does not know: " + tz.status().message());
  }
  {
    std::lock_guard lock(mu_);
    tz_ = *tz;
  }

  std::string pwhat = "GET " + api_ + "/project/" + c_.project;
  Reply project = Call("GET", api_ + "/project/" + http::UrlEncode(c_.project), pwhat, 200);
  if (project.status.code() == Status::Code::kNotFound) {
    return Status::NotFound("Jira project " + c_.project + " not found, or " + report.user +
                            " may not browse it; check backends.jira.project (the key, e.g. SEC)");
  }
  if (!project.status.ok()) return project.status;
  Reader pr("Jira", pwhat);
  const json::array* types = pr.Arr(pr.Obj(&project.body, "an object"), "issueTypes", "issueTypes");
  if (pr.failed()) return Status::Unavailable(pr.error());
  std::string names;
  bool found = false;
  for (const auto& t : *types) {
    std::string n = pr.Str(pr.Obj(&t, "issueTypes[]"), "name", "issueTypes[].name");
    if (pr.failed()) return Status::Unavailable(pr.error());
    found = found || n == c_.issue_type;
    names += (names.empty() ? "" : ", ") + n;
  }
  if (!found) {
    return Status::NotFound("issue type \"" + c_.issue_type + "\" is not in Jira project " + c_.project +
                            "; the project has: " + names + ". Fix backends.jira.issue_type or add the type to the "
                            "project's issue type scheme");
  }

  const char* needed[][2] = {{"BROWSE_PROJECTS", "browse the project"},
                             {"CREATE_ISSUES", "create issues"},
                             {"TRANSITION_ISSUES", "transition issues"},
                             {"ADD_COMMENTS", "add comments"}};
  std::string keys;
  for (const auto& n : needed) keys += (keys.empty() ? "" : ",") + std::string(n[0]);
  std::string mwhat = "GET " + api_ + "/mypermissions";
  Reply perms = Call("GET", api_ + "/mypermissions?projectKey=" + http::UrlEncode(c_.project) +
                                "&permissions=" + http::UrlEncode(keys),
                     mwhat, 200);
  if (!perms.status.ok()) return perms.status;
  Reader mr("Jira", mwhat);
  const json::object* pm = mr.Child(mr.Obj(&perms.body, "an object"), "permissions", "permissions");
  for (const auto& n : needed) {
    const json::object* p = mr.Child(pm, n[0], std::string("permissions.") + n[0]);
    const json::value* have = p ? p->if_contains("havePermission") : nullptr;
    if (mr.failed() || have == nullptr || !have->is_bool()) {
      return Status::Unavailable(mr.failed() ? mr.error() : mwhat + ": permissions." + n[0] + ".havePermission missing");
    }
    if (!have->get_bool()) {
      return Status::PermissionDenied(report.user + " may not " + n[1] + " in Jira project " + c_.project + " (" +
                                      n[0] + "); grant it in the project's permission scheme");
    }
  }

  // Priority names are checked but only warned of: a project may use a
  // priority scheme the global list does not show.
  // v3: the paged /priority/search (GET /priority is deprecated on Cloud);
  // v2: the plain list.
  std::string prpath = c_.api_version == 3 ? api_ + "/priority/search?maxResults=100" : api_ + "/priority";
  std::string prwhat = "GET " + prpath.substr(0, prpath.find('?'));
  Reply prios = Call("GET", prpath, prwhat, 200);
  const json::value* list = &prios.body;
  if (c_.api_version == 3 && prios.body.is_object()) list = prios.body.get_object().if_contains("values");
  if (prios.status.ok() && list && list->is_array()) {
    std::set<std::string> known;
    for (const auto& p : list->get_array()) {
      if (p.is_object()) {
        if (auto* n = p.get_object().if_contains("name"); n && n->is_string()) known.insert(std::string(n->get_string()));
      }
    }
    for (const auto& [sev, name] : c_.priorities) {
      if (!known.count(name)) {
        report.warnings.push_back("priority \"" + name + "\" (for " + SeverityName(sev) +
                                  ") is not a Jira priority; set backends.jira.priorities");
      }
    }
  }
  report.summary = "project " + c_.project + ", issue type " + c_.issue_type;
  return report;
}

Result<TicketPage> JiraBackend::Search(const std::string& jql, std::string_view page_token, int max_results) {
  std::string path, what;
  if (c_.api_version == 3) {
    path = api_ + "/search/jql?jql=" + http::UrlEncode(jql) + "&fields=" + http::UrlEncode(kTicketFields) +
           "&maxResults=" + std::to_string(max_results);
    if (!page_token.empty()) path += "&nextPageToken=" + http::UrlEncode(page_token);
    what = "GET " + api_ + "/search/jql";
  } else {
    path = api_ + "/search?jql=" + http::UrlEncode(jql) + "&fields=" + http::UrlEncode(kTicketFields) +
           "&maxResults=" + std::to_string(max_results) + "&startAt=" + (page_token.empty() ? "0" : std::string(page_token));
    what = "GET " + api_ + "/search";
  }
  Reply r = Call("GET", path, what, 200);
  if (!r.status.ok()) return r.status;
  Reader rd("Jira", what);
  const json::object* o = rd.Obj(&r.body, "an object");
  const json::array* issues = rd.Arr(o, "issues", "issues");
  if (rd.failed()) return Status::Unavailable(rd.error());
  TicketPage page;
  for (const auto& issue : *issues) {
    auto t = ParseTicket(issue, what);
    if (!t.ok()) return t.status();
    page.tickets.push_back(std::move(t).value());
  }
  if (c_.api_version == 3) {
    // The last page has no nextPageToken (or null); isLast, where sent, agrees.
    if (const json::value* tok = o->if_contains("nextPageToken"); tok && !tok->is_null()) {
      if (!tok->is_string()) return Status::Unavailable(what + ": nextPageToken is not a string");
      const json::value* last = o->if_contains("isLast");
      if (!(last && last->is_bool() && last->get_bool())) page.next_page = std::string(tok->get_string());
    }
  } else {
    const json::value* start = o->if_contains("startAt");
    const json::value* total = o->if_contains("total");
    if (!start || !total || !start->is_number() || !total->is_number()) {
      return Status::Unavailable(what + ": startAt or total missing from Jira's reply");
    }
    int64_t next = start->to_number<int64_t>() + static_cast<int64_t>(issues->size());
    if (!issues->empty() && next < total->to_number<int64_t>()) page.next_page = std::to_string(next);
  }
  return page;
}

Result<std::optional<Ticket>> JiraBackend::FindByIncident(std::string_view incident_id) {
  std::string jql = "project = " + c_.project + " AND labels = " +
                    JqlQuote(std::string(kIncidentLabelPrefix) + std::string(incident_id)) + " ORDER BY created ASC";
  auto page = Search(jql, "", 10);
  if (!page.ok()) return page.status();
  if (page->tickets.empty()) return std::optional<Ticket>();
  if (page->tickets.size() > 1) {
    std::string keys;
    for (const auto& t : page->tickets) keys += (keys.empty() ? "" : ", ") + t.key;
    spdlog::warn("jira: incident {} has {} tickets ({}); noxsync keeps the oldest, {}", incident_id,
                 page->tickets.size(), keys, page->tickets.front().key);
  }
  return std::optional<Ticket>(page->tickets.front());
}

Result<Ticket> JiraBackend::Get(std::string_view key) {
  std::string what = "GET " + api_ + "/issue/" + std::string(key);
  Reply r = Call("GET", api_ + "/issue/" + http::UrlEncode(key) + "?fields=" + http::UrlEncode(kTicketFields), what, 200);
  if (!r.status.ok()) return r.status;
  return ParseTicket(r.body, what);
}

Result<json::value> JiraBackend::AssigneeFor(const std::string& who) {
  const char* id_field = c_.api_version == 3 ? "accountId" : "name";
  if (who.find('@') == std::string::npos) return json::value(json::object{{id_field, who}});
  {
    std::lock_guard lock(mu_);
    if (auto it = assignee_cache_.find(who); it != assignee_cache_.end()) {
      return json::value(json::object{{id_field, it->second}});
    }
  }
  std::string what = "GET " + api_ + "/user/search";
  std::string param = c_.api_version == 3 ? "query" : "username";
  Reply r = Call("GET", api_ + "/user/search?" + param + "=" + http::UrlEncode(who), what, 200);
  if (!r.status.ok()) return r.status;
  if (!r.body.is_array()) return Status::Unavailable(what + ": Jira's reply is not an array of users");
  std::string id;
  const auto& users = r.body.get_array();
  for (const auto& u : users) {
    if (!u.is_object()) continue;
    const json::value* email = u.get_object().if_contains("emailAddress");
    const json::value* uid = u.get_object().if_contains(id_field);
    if (!uid || !uid->is_string()) continue;
    // Cloud hides e-mail addresses by default: a single match is taken as is.
    if ((email && email->is_string() && IEquals(email->get_string(), who)) || users.size() == 1) {
      id = std::string(uid->get_string());
      break;
    }
  }
  if (id.empty()) {
    return Status::InvalidArgument("no Jira user with e-mail " + who + " that " + c_.Who() +
                                   " can see; check the assignee, or give an account id");
  }
  std::lock_guard lock(mu_);
  assignee_cache_[who] = id;
  return json::value(json::object{{id_field, id}});
}

Result<Ticket> JiraBackend::Create(const NewTicket& t) {
  json::object fields;
  fields["project"] = json::object{{"key", c_.project}};
  fields["issuetype"] = json::object{{"name", c_.issue_type}};
  // Jira's summary is one line of at most 255 characters.
  std::string summary = t.summary;
  std::replace_if(summary.begin(), summary.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
  if (summary.size() > 255) summary = std::string(Utf8Prefix(summary, 252)) + "...";
  fields["summary"] = summary;
  if (c_.api_version == 3) {
    fields["description"] = DescriptionAdf(t);
  } else {
    fields["description"] = DescriptionWiki(t);
  }
  json::array labels{"noxys"};
  std::set<std::string> seen{"noxys"};
  auto add_label = [&](const std::string& l) {
    if (!l.empty() && seen.insert(l).second) labels.push_back(json::string(l));
  };
  add_label(LabelFor(t.platform));
  add_label(kIncidentLabelPrefix + t.incident_id);
  for (const auto& l : t.labels) add_label(LabelFor(l));
  for (const auto& l : c_.labels) add_label(l);
  fields["labels"] = std::move(labels);
  if (auto it = c_.priorities.find(t.severity); it != c_.priorities.end() && !it->second.empty()) {
    fields["priority"] = json::object{{"name", it->second}};
  }
  if (!t.assignee.empty()) {
    auto a = AssigneeFor(t.assignee);
    if (!a.ok()) return a.status();
    fields["assignee"] = *a;
  }
  if (!c_.components.empty()) {
    json::array comps;
    for (const auto& c : c_.components) comps.push_back(json::object{{"name", c}});
    fields["components"] = std::move(comps);
  }
  for (const auto& [name, value_json] : t.extra_fields) {
    std::string id;
    json::value v;
    bool skip = false;
    if (Status s = MapField(name, value_json, &id, &v, &skip); !s.ok()) return s;
    if (!skip) fields[id] = std::move(v);
  }
  json::value body = json::object{{"fields", std::move(fields)}};
  std::string what = "POST " + api_ + "/issue (incident " + t.incident_id + ")";
  Reply r = Call("POST", api_ + "/issue", what, 201, &body);
  if (!r.status.ok()) return r.status;
  Reader rd("Jira", what);
  const json::object* o = rd.Obj(&r.body, "an object");
  Ticket created;
  created.key = rd.Str(o, "key", "key");
  created.id = rd.Str(o, "id", "id");
  if (rd.failed()) return Status::Unavailable(rd.error());
  created.url = c_.base_url + "/browse/" + created.key;
  created.incident_id = t.incident_id;
  spdlog::info("jira: created {} for incident {}", created.key, t.incident_id);
  // The create reply has no status or times; read them. If that read fails
  // the ticket still exists, so it is reported with what is known.
  auto full = Get(created.key);
  if (full.ok()) return full;
  spdlog::warn("jira: created {} but could not read it back: {}", created.key, full.status().message());
  created.raw_status = "";
  created.status = IncidentStatus::kOpen;
  return created;
}

Result<std::vector<JiraBackend::Field>> JiraBackend::Fields() {
  {
    std::lock_guard lock(mu_);
    if (fields_) return *fields_;
  }
  std::string what = "GET " + api_ + "/field";
  Reply r = Call("GET", api_ + "/field", what, 200);
  if (!r.status.ok()) return r.status;
  if (!r.body.is_array()) return Status::Unavailable("Jira's reply to " + what + " is not a list of fields");
  Reader rd("Jira", what);
  const json::array* list = &r.body.get_array();
  std::vector<Field> out;
  for (const auto& fv : *list) {
    const json::object* fo = rd.Obj(&fv, "[]");
    Field f;
    f.id = rd.Str(fo, "id", "[].id");
    f.name = rd.Str(fo, "name", "[].name");
    if (rd.failed()) return Status::Unavailable(rd.error());
    if (const json::value* c = fo->if_contains("custom"); c && c->is_bool()) f.custom = c->get_bool();
    if (const json::value* sc = fo->if_contains("schema"); sc && sc->is_object()) {
      if (const json::value* ty = sc->get_object().if_contains("type"); ty && ty->is_string()) f.type = ty->get_string();
      if (const json::value* it = sc->get_object().if_contains("items"); it && it->is_string()) f.items = it->get_string();
    }
    out.push_back(std::move(f));
  }
  std::lock_guard lock(mu_);
  fields_ = out;
  return out;
}

Status JiraBackend::MapField(const std::string& name, const std::string& value_json, std::string* id,
                             json::value* value, bool* skip) {
  *skip = false;
  boost::system::error_code ec;
  *value = json::parse(value_json, ec);
  if (ec) return Status::InvalidArgument("field " + name + ": value is not JSON: " + value_json);
  auto fields = Fields();
  if (!fields.ok()) return fields.status();
  const Field* found = nullptr;
  for (const auto& f : *fields) {
    if (f.id == name) found = &f;
  }
  for (const auto& f : *fields) {
    if (!found && IEquals(f.name, name)) found = &f;
  }
  bool custom_id = name.rfind("customfield_", 0) == 0;
  if (found && !found->custom) {
    return Status::InvalidArgument("field_mapping.jira names \"" + name + "\", a Jira system field; only custom "
                                   "fields can be mapped (by name or as customfield_NNNNN)");
  }
  if (!found) {
    // An id Jira does not list is sent as is: Jira's answer names the
    // problem. A name is skipped: the value is in the ticket's facts.
    if (custom_id) {
      *id = name;
      return Status::Ok();
    }
    std::lock_guard lock(mu_);
    if (missing_fields_warned_.insert(name).second) {
      spdlog::warn("jira: no custom field named \"{}\"; its value stays in the description only. Create the field "
                   "or remove field_mapping.jira[\"{}\"]",
                   name, name);
    }
    *skip = true;
    return Status::Ok();
  }
  *id = found->id;
  // Templates render text; give Jira the type the field wants.
  if (!value->is_string()) return Status::Ok();
  std::string text(value->get_string());
  if (found->type == "number") {
    char* end = nullptr;
    double d = std::strtod(text.c_str(), &end);
    if (text.empty() || end == nullptr || *end != '\0') {
      return Status::InvalidArgument("Jira field \"" + found->name + "\" (" + found->id + ") takes a number, and its "
                                     "template gave \"" + text + "\"; fix field_mapping.jira");
    }
    *value = d;
  } else if (found->type == "option") {
    *value = json::object{{"value", text}};
  } else if (found->type == "array") {
    json::array items;
    for (const auto& part : SplitList(text)) {
      if (found->items == "option") {
        items.push_back(json::object{{"value", part}});
      } else {
        items.push_back(json::value(part));
      }
    }
    *value = std::move(items);
  }
  return Status::Ok();
}

Result<TicketPage> JiraBackend::ChangedSince(int64_t since_us, std::string_view page_token) {
  auto tz = UserTimeZone();
  if (!tz.ok()) return tz.status();
  // JQL compares minutes in the API user's zone: floor, minus an overlap for
  // clock skew and for updates that land while the search is indexed.
  int64_t from = since_us - static_cast<int64_t>(c_.poll_overlap_minutes) * 60'000'000;
  std::string jql = "project = " + c_.project + " AND labels = noxys AND updated >= \"" + tz->FormatMinute(from) +
                    "\" ORDER BY updated ASC";
  auto page = Search(jql, page_token, c_.page_size);
  if (!page.ok()) return page;
  // The overlap brings back older versions; keep what is at or after the
  // cursor. Repeats at the cursor itself are the ChangeCursor's to drop.
  std::set<std::pair<std::string, std::string>> seen;
  std::vector<Ticket> kept;
  for (auto& t : page->tickets) {
    if (t.updated_us >= since_us && seen.emplace(t.key, t.version).second) kept.push_back(std::move(t));
  }
  page->tickets = std::move(kept);
  return page;
}

Result<Ticket> JiraBackend::MoveTo(std::string_view key, IncidentStatus target) {
  auto wanted_name = c_.statuses.find(target);
  auto current = Get(key);
  if (!current.ok()) return current.status();
  bool already = wanted_name != c_.statuses.end() ? IEquals(current->raw_status, wanted_name->second)
                                                  : current->status == target ||
                                                        // One "done" status serves Resolved and Closed.
                                                        (target == IncidentStatus::kClosed &&
                                                         current->status == IncidentStatus::kResolved);
  if (already) return current;
  std::string what = "GET " + api_ + "/issue/" + std::string(key) + "/transitions";
  Reply r = Call("GET", api_ + "/issue/" + http::UrlEncode(key) + "/transitions?expand=transitions.fields", what, 200);
  if (!r.status.ok()) return r.status;
  Reader rd("Jira", what);
  const json::array* list = rd.Arr(rd.Obj(&r.body, "an object"), "transitions", "transitions");
  if (rd.failed()) return Status::Unavailable(rd.error());

  std::string category = CategoryFor(target);
  const json::object* chosen = nullptr;
  int chosen_rank = 0;
  std::string offered;
  for (const auto& tv : *list) {
    const json::object* tr = rd.Obj(&tv, "transitions[]");
    std::string id = rd.Str(tr, "id", "transitions[].id");
    std::string tname = rd.Str(tr, "name", "transitions[].name");
    const json::object* to = rd.Child(tr, "to", "transitions[].to");
    std::string to_name = rd.Str(to, "name", "transitions[].to.name");
    std::string to_cat = rd.Str(rd.Child(to, "statusCategory", "transitions[].to.statusCategory"), "key",
                                "transitions[].to.statusCategory.key");
    if (rd.failed()) return Status::Unavailable(rd.error());
    offered += (offered.empty() ? "" : ", ") + ("\"" + tname + "\" -> " + to_name);
    int rank = 0;
    if (wanted_name != c_.statuses.end()) {
      rank = IEquals(to_name, wanted_name->second) ? 3 : 0;
    } else if (to_cat == category) {
      rank = IEquals(to_name, IncidentStatusName(target)) ? 2 : 1;
    }
    if (rank > chosen_rank) {
      chosen = tr;
      chosen_rank = rank;
    }
  }
  std::string target_desc = wanted_name != c_.statuses.end() ? "status \"" + wanted_name->second + "\""
                                                              : "a status of category " + category;
  if (chosen == nullptr) {
    return Status::FailedPrecondition("Jira issue " + std::string(key) + " (now \"" + current->raw_status +
                                      "\") cannot move to " + IncidentStatusName(target) +
                                      ": no transition leads to " + target_desc + "; transitions offered: " +
                                      (offered.empty() ? "none" : offered) +
                                      ". Set backends.jira.statuses to the workflow's status names");
  }
  std::string tid(chosen->at("id").get_string());
  std::string tname(chosen->at("name").get_string());
  json::object fields;
  if (const json::value* fv = chosen->if_contains("fields"); fv && fv->is_object()) {
    for (const auto& kv : fv->get_object()) {
      if (!kv.value().is_object()) continue;
      const json::object& f = kv.value().get_object();
      const json::value* req = f.if_contains("required");
      const json::value* def = f.if_contains("hasDefaultValue");
      if (!(req && req->is_bool() && req->get_bool()) || (def && def->is_bool() && def->get_bool())) continue;
      if (kv.key() != "resolution") {
        return Status::FailedPrecondition("Jira transition \"" + tname + "\" of " + std::string(key) +
                                          " requires the field \"" + std::string(kv.key()) +
                                          "\", which noxsync cannot fill; remove it from the transition screen");
      }
      std::string allowed;
      bool ok = true;
      if (const json::value* av = f.if_contains("allowedValues"); av && av->is_array()) {
        ok = false;
        for (const auto& a : av->get_array()) {
          if (!a.is_object()) continue;
          const json::value* n = a.get_object().if_contains("name");
          if (n && n->is_string()) {
            allowed += (allowed.empty() ? "" : ", ") + std::string(n->get_string());
            ok = ok || n->get_string() == c_.resolution;
          }
        }
      }
      if (!ok) {
        return Status::FailedPrecondition("resolution \"" + c_.resolution + "\" is not offered by transition \"" +
                                          tname + "\" of " + std::string(key) + " (offered: " + allowed +
                                          "); set backends.jira.resolution");
      }
      fields["resolution"] = json::object{{"name", c_.resolution}};
    }
  }
  json::object body{{"transition", json::object{{"id", tid}}}};
  if (!fields.empty()) body["fields"] = std::move(fields);
  json::value bv = std::move(body);
  std::string pwhat = "POST " + api_ + "/issue/" + std::string(key) + "/transitions (\"" + tname + "\")";
  Reply done = Call("POST", api_ + "/issue/" + http::UrlEncode(key) + "/transitions", pwhat, 204, &bv);
  if (!done.status.ok()) return done.status;
  spdlog::info("jira: moved {} to {} through \"{}\"", key, IncidentStatusName(target), tname);
  return Get(key);
}

Status JiraBackend::AddComment(std::string_view key, const Comment& comment) {
  json::value body = json::object{{"body", c_.api_version == 3 ? CommentAdf(comment) : json::value(CommentWiki(comment))}};
  std::string what = "POST " + api_ + "/issue/" + std::string(key) + "/comment";
  Reply r = Call("POST", api_ + "/issue/" + http::UrlEncode(key) + "/comment", what, 201, &body);
  return r.status;
}

Result<Ticket> JiraBackend::SetPriority(std::string_view key, Severity severity) {
  auto it = c_.priorities.find(severity);
  if (it == c_.priorities.end() || it->second.empty()) {
    return Status::FailedPrecondition(std::string("no Jira priority is configured for ") + SeverityName(severity) +
                                      " (backends.jira.priorities)");
  }
  json::value body = json::object{{"fields", json::object{{"priority", json::object{{"name", it->second}}}}}};
  std::string what = "PUT " + api_ + "/issue/" + std::string(key) + " (priority " + it->second + ")";
  Reply r = Call("PUT", api_ + "/issue/" + http::UrlEncode(key), what, 204, &body);
  if (!r.status.ok()) return r.status;
  spdlog::info("jira: set the priority of {} to {}", key, it->second);
  return Get(key);
}

}  // namespace

Result<std::unique_ptr<Backend>> MakeJiraBackend(JiraConfig config, const Clock& clock, Sleeper& sleeper) {
  auto client = http::HttpClient::Create(config.http, clock, sleeper);
  if (!client.ok()) return client.status();
  return std::unique_ptr<Backend>(new JiraBackend(std::move(config), std::move(client).value()));
}

}  // namespace noxsync::jira
