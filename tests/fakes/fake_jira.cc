#include "tests/fakes/fake_jira.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <functional>

#include <boost/beast/core/detail/base64.hpp>
#include <boost/json.hpp>

#include "sync/timestamp.h"

namespace noxsync::fakes {

namespace json = boost::json;

namespace {

struct WorkflowStatus {
  const char* name;
  const char* id;
  int category_id;
  const char* category_key;
  const char* category_name;
  const char* color;
};
constexpr WorkflowStatus kStatuses[] = {
    {"To Do", "10000", 2, "new", "To Do", "blue-gray"},
    {"In Progress", "3", 4, "indeterminate", "In Progress", "yellow"},
    {"Done", "10001", 3, "done", "Done", "green"},
};
// Transition ids, one per target status, offered from every other status.
constexpr const char* kTransitionIds[] = {"11", "21", "31"};

FakeResponse Json(int status, std::string body) {
  FakeResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

FakeResponse Error(int status, const std::vector<std::string>& messages,
                   const std::map<std::string, std::string>& errors = {}) {
  return Json(status, JiraErrorBody(messages, errors));
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i <= s.size()) {
    size_t j = s.find(sep, i);
    std::string part = s.substr(i, j == std::string::npos ? std::string::npos : j - i);
    if (!part.empty()) out.push_back(part);
    if (j == std::string::npos) break;
    i = j + 1;
  }
  return out;
}

// --- ADF -----------------------------------------------------------------

// Checks a node against the parts of the ADF schema the adapter may use;
// *error names the first violation.
bool ValidNode(const json::value& v, bool inline_ctx, std::string* error) {
  if (!v.is_object()) return *error = "node is not an object", false;
  const json::object& o = v.get_object();
  const json::value* type = o.if_contains("type");
  if (!type || !type->is_string()) return *error = "node without type", false;
  std::string t(type->get_string());
  static const std::set<std::string> kInline = {"text", "hardBreak", "mention", "emoji", "inlineCard"};
  static const std::set<std::string> kBlock = {"paragraph", "heading", "bulletList", "orderedList", "listItem",
                                               "codeBlock", "blockquote", "rule", "panel"};
  if (inline_ctx != (kInline.count(t) > 0)) {
    if (!kInline.count(t) && !kBlock.count(t)) return *error = "unknown node type \"" + t + "\"", false;
    return *error = "node \"" + t + "\" is not allowed here", false;
  }
  for (const auto& kv : o) {
    static const std::set<std::string> kKeys = {"type", "content", "text", "marks", "attrs"};
    if (!kKeys.count(std::string(kv.key()))) return *error = "unknown property \"" + std::string(kv.key()) + "\"", false;
  }
  if (t == "text") {
    const json::value* text = o.if_contains("text");
    if (!text || !text->is_string() || text->get_string().empty()) return *error = "text node without text", false;
    if (const json::value* marks = o.if_contains("marks")) {
      if (!marks->is_array()) return *error = "marks is not an array", false;
      for (const auto& m : marks->get_array()) {
        static const std::set<std::string> kMarks = {"strong", "em", "code", "link", "strike", "underline"};
        const json::value* mt = m.is_object() ? m.get_object().if_contains("type") : nullptr;
        if (!mt || !mt->is_string() || !kMarks.count(std::string(mt->get_string()))) {
          return *error = "unknown mark", false;
        }
      }
    }
    return true;
  }
  if (t == "heading") {
    const json::value* attrs = o.if_contains("attrs");
    const json::value* level = attrs && attrs->is_object() ? attrs->get_object().if_contains("level") : nullptr;
    if (!level || !level->is_int64() || level->get_int64() < 1 || level->get_int64() > 6) {
      return *error = "heading without attrs.level 1..6", false;
    }
  }
  const json::value* content = o.if_contains("content");
  if (t == "rule" || t == "hardBreak") return true;
  if (!content || !content->is_array()) return *error = "node \"" + t + "\" without content array", false;
  bool child_inline = t == "paragraph" || t == "heading" || t == "codeBlock";
  for (const auto& child : content->get_array()) {
    if (t == "bulletList" || t == "orderedList") {
      const json::value* ct = child.is_object() ? child.get_object().if_contains("type") : nullptr;
      if (!ct || !ct->is_string() || ct->get_string() != "listItem") return *error = "a list holds only listItem", false;
    }
    if (!ValidNode(child, child_inline, error)) return false;
  }
  if ((t == "bulletList" || t == "orderedList" || t == "listItem") && content->get_array().empty()) {
    return *error = "empty " + t, false;
  }
  return true;
}

bool ValidDoc(const json::value& v, std::string* error) {
  if (!v.is_object()) return *error = "not an Atlassian Document", false;
  const json::object& o = v.get_object();
  const json::value* type = o.if_contains("type");
  const json::value* version = o.if_contains("version");
  const json::value* content = o.if_contains("content");
  if (!type || !type->is_string() || type->get_string() != "doc") return *error = "type is not \"doc\"", false;
  if (!version || !version->is_int64() || version->get_int64() != 1) return *error = "version is not 1", false;
  if (!content || !content->is_array()) return *error = "doc without content", false;
  for (const auto& n : content->get_array()) {
    if (!ValidNode(n, false, error)) return false;
    if (n.get_object().at("type").get_string() == "listItem") return *error = "listItem outside a list", false;
  }
  return true;
}

// --- JQL -----------------------------------------------------------------

struct Jql {
  std::optional<std::string> project;
  std::vector<std::string> labels;
  std::optional<int64_t> updated_from_us;
  std::string order_field;  // "", "updated", "created"
  bool ascending = true;
};

// The JQL subset noxsync uses, strictly:
//   clause (AND clause)* [ORDER BY (updated|created) [ASC|DESC]]
//   clause: project = V | labels = V | updated >= "yyyy-MM-dd[ HH:mm]"
bool ParseJql(const std::string& text, const TimeZone& tz, Jql* out, std::string* error) {
  std::vector<std::string> tokens;
  std::vector<bool> quoted;
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (c == '"' || c == '\'') {
      std::string v;
      size_t j = i + 1;
      for (; j < text.size() && text[j] != c; ++j) {
        if (text[j] == '\\' && j + 1 < text.size()) ++j;
        v.push_back(text[j]);
      }
      if (j >= text.size()) return *error = "Error in the JQL Query: The quoted string has not been completed.", false;
      tokens.push_back(v);
      quoted.push_back(true);
      i = j + 1;
    } else if (c == '=' || c == '>' || c == '<' || c == '!' || c == '~') {
      size_t j = i + 1;
      if (j < text.size() && text[j] == '=') ++j;
      tokens.push_back(text.substr(i, j - i));
      quoted.push_back(false);
      i = j;
    } else if (c == '(' || c == ')' || c == ',') {
      tokens.push_back(std::string(1, c));
      quoted.push_back(false);
      ++i;
    } else {
      size_t j = i;
      while (j < text.size() && !std::isspace(static_cast<unsigned char>(text[j])) &&
             std::string_view("=<>!~(),\"'").find(text[j]) == std::string_view::npos) {
        ++j;
      }
      tokens.push_back(text.substr(i, j - i));
      quoted.push_back(false);
      i = j;
    }
  }
  auto lower = [](std::string s) {
    for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return s;
  };
  auto unexpected = [&](size_t at) {
    *error = "Error in the JQL Query: Expecting either 'OR' or 'AND' but got '" +
             (at < tokens.size() ? tokens[at] : std::string("<end>")) + "'. (line 1, character " +
             std::to_string(at + 1) + ")";
    return false;
  };
  size_t p = 0;
  bool first = true;
  while (p < tokens.size()) {
    if (!quoted[p] && lower(tokens[p]) == "order") break;
    if (!first) {
      if (quoted[p] || lower(tokens[p]) != "and") return unexpected(p);
      ++p;
    }
    first = false;
    if (p + 2 >= tokens.size()) {
      *error = "Error in the JQL Query: Expecting a field, an operator and a value but got <end>.";
      return false;
    }
    std::string field = lower(tokens[p]);
    std::string op = tokens[p + 1];
    std::string value = tokens[p + 2];
    if (field == "project" && op == "=") {
      out->project = value;
    } else if (field == "labels" && op == "=") {
      out->labels.push_back(value);
    } else if (field == "updated" && op == ">=") {
      int y, mo, d, h = 0, mi = 0;
      char sep1, sep2;
      int n = std::sscanf(value.c_str(), "%4d%c%2d%c%2d %2d:%2d", &y, &sep1, &mo, &sep2, &d, &h, &mi);
      bool date_only = n == 5 && value.size() == 10;
      if (!((n == 7 && value.size() == 16) || date_only) || sep1 != sep2 || (sep1 != '-' && sep1 != '/')) {
        *error = "Date value '" + value +
                 "' for field 'updated' is invalid. Valid formats include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', "
                 "'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'.";
        return false;
      }
      char iso[32];
      std::snprintf(iso, sizeof iso, "%04d-%02d-%02dT%02d:%02d:00Z", y, mo, d, h, mi);
      int64_t local_us;
      if (!ParseTimestamp(iso, &local_us)) {
        *error = "Date value '" + value + "' for field 'updated' is invalid.";
        return false;
      }
      out->updated_from_us = tz.ToUtc(local_us);
    } else if (field == "project" || field == "labels" || field == "updated") {
      *error = "Error in the JQL Query: the operator '" + op + "' is not supported by this fake for field '" +
               field + "'.";
      return false;
    } else {
      *error = "Field '" + tokens[p] + "' does not exist or you do not have permission to view it.";
      return false;
    }
    p += 3;
  }
  if (p < tokens.size()) {
    if (p + 2 >= tokens.size() || lower(tokens[p + 1]) != "by") {
      *error = "Error in the JQL Query: Expecting 'BY' after 'ORDER'.";
      return false;
    }
    out->order_field = lower(tokens[p + 2]);
    if (out->order_field != "updated" && out->order_field != "created") {
      *error = "Not able to sort using field '" + tokens[p + 2] + "'.";
      return false;
    }
    p += 3;
    if (p < tokens.size()) {
      std::string dir = lower(tokens[p]);
      if (dir != "asc" && dir != "desc") return unexpected(p);
      out->ascending = dir == "asc";
      ++p;
    }
    if (p < tokens.size()) return unexpected(p);
  }
  if (!out->project && out->labels.empty() && !out->updated_from_us) {
    *error = "Unbounded JQL queries are not allowed here. Please add a search restriction to your query.";
    return false;
  }
  return true;
}

std::string Base64(const std::string& s) {
  std::string out(boost::beast::detail::base64::encoded_size(s.size()), '\0');
  out.resize(boost::beast::detail::base64::encode(out.data(), s.data(), s.size()));
  return out;
}

}  // namespace

std::string JiraErrorBody(const std::vector<std::string>& messages, const std::map<std::string, std::string>& errors) {
  json::array m;
  for (const auto& s : messages) m.push_back(json::string(s));
  json::object e;
  for (const auto& [k, v] : errors) e[k] = v;
  return json::serialize(json::object{{"errorMessages", std::move(m)}, {"errors", std::move(e)}});
}

FakeJira::FakeJira(const Clock& clock, FakeJiraOptions options)
    : clock_(clock), o_(std::move(options)), tz_(TimeZone::Utc()) {
  auto tz = TimeZone::Load(o_.time_zone);
  if (tz.ok()) tz_ = *tz;
}

void FakeJira::set_base_url(const std::string& url) {
  std::lock_guard lock(mu_);
  o_.base_url = url;
}

std::string FakeJira::JiraTime(int64_t utc_us) const {
  using namespace std::chrono;
  int32_t off = tz_.OffsetAt(utc_us);
  int64_t local_ms = utc_us / 1000 + static_cast<int64_t>(off) * 1000;
  sys_time<milliseconds> tp{milliseconds{local_ms}};
  auto day = floor<days>(tp);
  year_month_day ymd{day};
  hh_mm_ss hms{tp - day};
  char buf[48];
  int aoff = off < 0 ? -off : off;
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03d%c%02d%02d", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()), static_cast<int>(hms.subseconds().count()),
                off < 0 ? '-' : '+', aoff / 3600, (aoff % 3600) / 60);
  return buf;
}

bool FakeJira::Authorized(const FakeRequest& r) const {
  std::string auth = r.Header("authorization");
  if (o_.api_version == 3) return auth == "Basic " + Base64(o_.me.email + ":" + o_.api_token);
  return auth == "Basic " + Base64(o_.me.name + ":" + o_.password) || auth == "Bearer " + o_.personal_access_token;
}

FakeJiraIssue* FakeJira::Find(const std::string& key_or_id) {
  for (auto& i : issues_) {
    if (i.key == key_or_id || std::to_string(i.id) == key_or_id) return &i;
  }
  return nullptr;
}

std::string FakeJira::IssueJson(const FakeJiraIssue& i, const std::set<std::string>& want) const {
  auto has = [&](const char* f) { return want.count("*all") || want.count(f); };
  std::string api = o_.base_url + "/rest/api/" + std::to_string(o_.api_version);
  json::object fields;
  if (has("summary")) fields["summary"] = i.summary;
  if (has("status")) {
    const WorkflowStatus& s = kStatuses[i.status];
    fields["status"] = json::object{
        {"self", api + "/status/" + s.id}, {"description", ""}, {"iconUrl", o_.base_url + "/images/icons/status.png"},
        {"name", s.name}, {"id", s.id},
        {"statusCategory", json::object{{"self", api + "/statuscategory/" + std::to_string(s.category_id)},
                                        {"id", s.category_id}, {"key", s.category_key}, {"colorName", s.color},
                                        {"name", s.category_name}}}};
  }
  if (has("updated")) fields["updated"] = JiraTime(i.updated_us);
  if (has("created")) fields["created"] = JiraTime(i.created_us);
  if (has("labels")) {
    json::array l;
    for (const auto& s : i.labels) l.push_back(json::string(s));
    fields["labels"] = std::move(l);
  }
  if (has("priority")) {
    if (i.priority.empty()) {
      fields["priority"] = nullptr;
    } else {
      size_t idx = std::find(o_.priorities.begin(), o_.priorities.end(), i.priority) - o_.priorities.begin();
      fields["priority"] = json::object{{"self", api + "/priority/" + std::to_string(idx + 1)},
                                        {"iconUrl", o_.base_url + "/images/icons/priorities/p.svg"},
                                        {"name", i.priority}, {"id", std::to_string(idx + 1)}};
    }
  }
  if (has("resolution")) {
    fields["resolution"] = i.resolution.empty() ? json::value(nullptr) : json::value(json::object{{"name", i.resolution}});
  }
  if (has("description")) {
    if (o_.api_version == 3) {
      fields["description"] = i.description.empty() ? json::value(nullptr) : json::parse(i.description);
    } else {
      fields["description"] = i.description;
    }
  }
  json::object issue{{"expand", "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations"},
                     {"id", std::to_string(i.id)},
                     {"self", api + "/issue/" + std::to_string(i.id)},
                     {"key", i.key},
                     {"fields", std::move(fields)}};
  return json::serialize(issue);
}

FakeResponse FakeJira::Handle(const FakeRequest& r) {
  std::lock_guard lock(mu_);
  if (r.path.rfind("/_fake/", 0) == 0) return Control(r);
  requests_.Add(r);
  int delay = 0;
  auto error_body = [](int status) {
    return JiraErrorBody({status == 429 ? "Rate limit exceeded." : "Internal server error"});
  };
  if (auto faulty = faults_.Take(r.method + " " + r.path, error_body, &delay)) return *faulty;
  std::string prefix = "/rest/api/" + std::to_string(o_.api_version) + "/";
  FakeResponse res;
  if (r.path.rfind(prefix, 0) != 0) {
    res = Error(404, {"null for uri: " + o_.base_url + r.path});
  } else if (!Authorized(r)) {
    res = Error(401, {"You are not authenticated. Authentication required to perform this operation."});
  } else {
    res = Api(r, r.path.substr(prefix.size()));
  }
  res.delay_ms = std::max(res.delay_ms, delay);
  return res;
}

FakeResponse FakeJira::Api(const FakeRequest& r, const std::string& rest) {
  std::vector<std::string> parts = Split(rest, '/');
  const std::string& m = r.method;
  std::string api = o_.base_url + "/rest/api/" + std::to_string(o_.api_version);
  if (parts.size() == 1 && parts[0] == "myself" && m == "GET") {
    json::object me{{"self", api + "/user?accountId=" + o_.me.account_id}, {"emailAddress", o_.me.email},
                    {"displayName", o_.me.display_name}, {"active", true}, {"timeZone", o_.time_zone},
                    {"locale", "en_US"}};
    if (o_.api_version == 3) {
      me["accountId"] = o_.me.account_id;
      me["accountType"] = "atlassian";
    } else {
      me["name"] = o_.me.name;
      me["key"] = o_.me.name;
    }
    return Json(200, json::serialize(me));
  }
  if (parts.size() == 2 && parts[0] == "project" && m == "GET") {
    if (parts[1] != o_.project || !o_.permissions.count("BROWSE_PROJECTS")) {
      return Error(404, {"No project could be found with key '" + parts[1] + "'."});
    }
    json::array types;
    int id = 10001;
    for (const auto& t : o_.issue_types) {
      types.push_back(json::object{{"self", api + "/issuetype/" + std::to_string(id)}, {"id", std::to_string(id)},
                                   {"description", ""}, {"name", t}, {"subtask", false}});
      ++id;
    }
    return Json(200, json::serialize(json::object{{"self", api + "/project/10000"}, {"id", "10000"},
                                                   {"key", o_.project}, {"name", "Security Operations"},
                                                   {"projectTypeKey", "software"}, {"issueTypes", std::move(types)}}));
  }
  if (parts.size() == 1 && parts[0] == "mypermissions" && m == "GET") {
    std::string wanted = r.Query("permissions");
    if (wanted.empty() && o_.api_version == 3) {
      return Error(400, {"The 'permissions' query parameter is required."});
    }
    json::object perms;
    for (const auto& p : Split(wanted, ',')) {
      perms[p] = json::object{{"id", "0"}, {"key", p}, {"name", p}, {"type", "PROJECT"}, {"description", ""},
                              {"havePermission", o_.permissions.count(p) > 0}};
    }
    return Json(200, json::serialize(json::object{{"permissions", std::move(perms)}}));
  }
  bool priority_list = o_.api_version == 2 && parts.size() == 1 && parts[0] == "priority";
  bool priority_search = o_.api_version == 3 && parts.size() == 2 && parts[0] == "priority" && parts[1] == "search";
  if ((priority_list || priority_search) && m == "GET") {
    json::array list;
    int id = 1;
    for (const auto& p : o_.priorities) {
      list.push_back(json::object{{"self", api + "/priority/" + std::to_string(id)}, {"statusColor", "#cccccc"},
                                  {"description", ""}, {"iconUrl", ""}, {"name", p}, {"id", std::to_string(id)}});
      ++id;
    }
    if (priority_list) return Json(200, json::serialize(list));
    int64_t n = static_cast<int64_t>(list.size());
    return Json(200, json::serialize(json::object{{"maxResults", 100}, {"startAt", 0}, {"total", n}, {"isLast", true},
                                                  {"values", std::move(list)}}));
  }
  if (parts.size() == 1 && parts[0] == "field" && m == "GET") {
    json::array fields;
    for (const char* id : {"summary", "description", "labels", "priority", "assignee", "reporter", "components",
                           "created", "updated", "status"}) {
      std::string name(id);
      name[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(name[0])));
      fields.push_back(json::object{{"id", id}, {"key", id}, {"name", name}, {"custom", false}});
    }
    for (const auto& [id, f] : o_.custom_fields) {
      json::object schema{{"type", f.type}, {"custom", "com.atlassian.jira.plugin.system.customfieldtypes:" + f.type}};
      if (f.type == "array") schema["items"] = "string";
      fields.push_back(json::object{{"id", id}, {"key", id}, {"name", f.name}, {"custom", true},
                                    {"schema", std::move(schema)}});
    }
    return Json(200, json::serialize(fields));
  }
  if (parts.size() == 2 && parts[0] == "user" && parts[1] == "search" && m == "GET") {
    std::string q = o_.api_version == 3 ? r.Query("query") : r.Query("username");
    if (q.empty()) return Error(400, {"The query parameter '" + std::string(o_.api_version == 3 ? "query" : "username") + "' is required."});
    json::array found;
    for (const auto& u : o_.users) {
      if (u.email == q || u.display_name == q || u.name == q) {
        json::object obj{{"emailAddress", u.email}, {"displayName", u.display_name}, {"active", true}};
        if (o_.api_version == 3) {
          obj["accountId"] = u.account_id;
        } else {
          obj["name"] = u.name;
          obj["key"] = u.name;
        }
        found.push_back(std::move(obj));
      }
    }
    return Json(200, json::serialize(found));
  }
  if (o_.api_version == 3 && parts.size() == 2 && parts[0] == "search" && parts[1] == "jql" && m == "GET") {
    return Search(r, true);
  }
  if (o_.api_version == 3 && parts.size() == 1 && parts[0] == "search") {
    return Error(410, {"The requested API has been removed. Please migrate to the /rest/api/3/search/jql API."});
  }
  if (o_.api_version == 2 && parts.size() == 1 && parts[0] == "search" && m == "GET") return Search(r, false);
  if (parts.size() == 1 && parts[0] == "issue" && m == "POST") return CreateIssue(r);
  if (parts.size() >= 2 && parts[0] == "issue") {
    FakeJiraIssue* issue = Find(parts[1]);
    if (!issue) return Error(404, {"Issue does not exist or you do not have permission to see it."});
    if (parts.size() == 2 && m == "GET") {
      std::set<std::string> want;
      for (const auto& f : Split(r.Query("fields"), ',')) want.insert(f);
      if (want.empty()) want.insert("*all");
      return Json(200, IssueJson(*issue, want));
    }
    if (parts.size() == 3 && parts[2] == "transitions" && m == "GET") return Transitions(r, *issue);
    if (parts.size() == 3 && parts[2] == "transitions" && m == "POST") return DoTransition(r, *issue);
    if (parts.size() == 3 && parts[2] == "comment" && m == "POST") return AddComment(r, *issue);
    if (parts.size() == 2 && m == "PUT") return EditIssue(r, *issue);
  }
  return Error(404, {"null for uri: " + api + "/" + rest});
}

FakeResponse FakeJira::Search(const FakeRequest& r, bool enhanced) {
  std::string jql_text = r.Query("jql");
  Jql q;
  std::string error;
  if (!ParseJql(jql_text, tz_, &q, &error)) return Error(400, {error});
  if (q.project && *q.project != o_.project) {
    return Error(400, {"The value '" + *q.project + "' does not exist for the field 'project'."});
  }
  int max = 50;
  if (std::string mr = r.Query("maxResults"); !mr.empty()) {
    if (!std::all_of(mr.begin(), mr.end(), ::isdigit) || mr.size() > 6) {
      return Error(400, {"The value '" + mr + "' is invalid for the maxResults parameter."});
    }
    max = std::clamp(std::stoi(mr), 1, 100);  // Jira caps pages of issues with fields
  }
  std::vector<const FakeJiraIssue*> hits;
  for (const auto& i : issues_) {
    bool ok = !q.updated_from_us || i.updated_us >= *q.updated_from_us;
    for (const auto& l : q.labels) ok = ok && std::find(i.labels.begin(), i.labels.end(), l) != i.labels.end();
    if (ok) hits.push_back(&i);
  }
  if (!q.order_field.empty()) {
    bool by_updated = q.order_field == "updated";
    std::stable_sort(hits.begin(), hits.end(), [&](const FakeJiraIssue* a, const FakeJiraIssue* b) {
      int64_t x = by_updated ? a->updated_us : a->created_us, y = by_updated ? b->updated_us : b->created_us;
      if (x == y) return a->id < b->id;
      return q.ascending ? x < y : x > y;
    });
  }
  // Enhanced search returns only ids unless fields are asked for.
  std::set<std::string> want;
  for (const auto& f : Split(r.Query("fields"), ',')) want.insert(f);
  if (want.empty() && !enhanced) want.insert("*all");
  size_t start = 0;
  std::string token_suffix = "." + std::to_string(std::hash<std::string>{}(jql_text) % 1000000007);
  if (enhanced) {
    std::string token = r.Query("nextPageToken");
    if (!token.empty()) {
      size_t dot = token.find('.');
      if (token.rfind("fake", 0) != 0 || dot == std::string::npos || token.substr(dot) != token_suffix ||
          !std::all_of(token.begin() + 4, token.begin() + dot, ::isdigit) || dot == 4) {
        return Error(400, {"Invalid nextPageToken."});
      }
      start = std::stoul(token.substr(4, dot - 4));
    }
  } else if (std::string s = r.Query("startAt"); !s.empty()) {
    if (!std::all_of(s.begin(), s.end(), ::isdigit) || s.size() > 9) {
      return Error(400, {"The value '" + s + "' is invalid for the startAt parameter."});
    }
    start = std::stoul(s);
  }
  std::string issues = "[";
  size_t end = std::min(hits.size(), start + max);
  for (size_t i = start; i < end; ++i) {
    if (i > start) issues += ",";
    issues += IssueJson(*hits[i], want);
  }
  issues += "]";
  std::string body;
  if (enhanced) {
    bool last = end >= hits.size();
    body = "{\"issues\":" + issues +
           (last ? "" : ",\"nextPageToken\":\"fake" + std::to_string(end) + token_suffix + "\"") +
           ",\"isLast\":" + (last ? "true" : "false") + "}";
  } else {
    body = "{\"expand\":\"schema,names\",\"startAt\":" + std::to_string(start) +
           ",\"maxResults\":" + std::to_string(max) + ",\"total\":" + std::to_string(hits.size()) +
           ",\"issues\":" + issues + "}";
  }
  return Json(200, body);
}

FakeResponse FakeJira::CreateIssue(const FakeRequest& r) {
  if (!o_.permissions.count("CREATE_ISSUES")) {
    return Error(400, {}, {{"project", "You do not have permission to create issues in this project."}});
  }
  boost::system::error_code ec;
  json::value body = json::parse(r.body, ec);
  if (ec || !body.is_object() || !body.get_object().contains("fields") || !body.get_object().at("fields").is_object()) {
    return Error(400, {"Can not deserialize the request body: it must be a JSON object with \"fields\"."});
  }
  const json::object& f = body.get_object().at("fields").get_object();
  std::map<std::string, std::string> errors;
  FakeJiraIssue issue;
  auto name_of = [](const json::value* v, const char* key) -> std::string {
    if (!v || !v->is_object()) return "";
    const json::value* n = v->get_object().if_contains(key);
    return n && n->is_string() ? std::string(n->get_string()) : "";
  };
  if (name_of(f.if_contains("project"), "key") != o_.project) errors["project"] = "valid project is required";
  issue.issue_type = name_of(f.if_contains("issuetype"), "name");
  if (std::find(o_.issue_types.begin(), o_.issue_types.end(), issue.issue_type) == o_.issue_types.end()) {
    errors["issuetype"] = "Specify a valid issue type";
  }
  const json::value* summary = f.if_contains("summary");
  if (!summary || !summary->is_string() || summary->get_string().empty()) {
    errors["summary"] = "You must specify a summary of the issue.";
  } else if (summary->get_string().size() > 255) {
    errors["summary"] = "Summary must be less than 255 characters.";
  } else if (std::string_view(summary->get_string()).find_first_of("\r\n") != std::string_view::npos) {
    errors["summary"] = "The summary is invalid because it contains newline characters.";
  } else {
    issue.summary = std::string(summary->get_string());
  }
  if (const json::value* d = f.if_contains("description"); d && !d->is_null()) {
    if (o_.api_version == 3) {
      std::string why;
      if (d->is_string()) {
        errors["description"] = "Operation value must be an Atlassian Document (see the Atlassian Document Format)";
      } else if (!ValidDoc(*d, &why)) {
        errors["description"] = "INVALID_INPUT: " + why;
      } else {
        issue.description = json::serialize(*d);
      }
    } else if (!d->is_string()) {
      errors["description"] = "Operation value must be a string";
    } else {
      issue.description = std::string(d->get_string());
    }
  }
  if (const json::value* l = f.if_contains("labels")) {
    if (!l->is_array()) {
      errors["labels"] = "Operation value must be an array of strings";
    } else {
      for (const auto& v : l->get_array()) {
        if (!v.is_string()) {
          errors["labels"] = "Operation value must be an array of strings";
        } else if (v.get_string().empty() || std::string_view(v.get_string()).find(' ') != std::string_view::npos) {
          errors["labels"] = "The label '" + std::string(v.get_string()) + "' contains spaces which is invalid.";
        } else if (v.get_string().size() > 255) {
          errors["labels"] = "The label is too long.";
        } else {
          issue.labels.push_back(std::string(v.get_string()));
        }
      }
    }
  }
  if (const json::value* p = f.if_contains("priority")) {
    issue.priority = name_of(p, "name");
    if (std::find(o_.priorities.begin(), o_.priorities.end(), issue.priority) == o_.priorities.end()) {
      errors["priority"] = "The priority selected is invalid.";
    }
  } else {
    issue.priority = "Medium";
  }
  if (const json::value* a = f.if_contains("assignee"); a && !a->is_null()) {
    std::string id = name_of(a, o_.api_version == 3 ? "accountId" : "name");
    bool known = false;
    for (const auto& u : o_.users) known = known || (o_.api_version == 3 ? u.account_id : u.name) == id;
    if (!known) {
      errors["assignee"] = o_.api_version == 3 ? "Specified user does not exist or you do not have required permissions"
                                               : "User '" + id + "' does not exist.";
    }
    issue.assignee = id;
  }
  if (const json::value* c = f.if_contains("components")) {
    if (!c->is_array()) {
      errors["components"] = "Operation value must be an array";
    } else {
      for (const auto& v : c->get_array()) {
        std::string n = name_of(&v, "name");
        if (std::find(o_.components.begin(), o_.components.end(), n) == o_.components.end()) {
          errors["components"] = "Component name '" + n + "' is not valid";
        }
        issue.components.push_back(n);
      }
    }
  }
  static const std::set<std::string> kSystem = {"project", "issuetype", "summary", "description",
                                                "labels", "priority", "assignee", "components"};
  for (const auto& kv : f) {
    std::string k(kv.key());
    if (kSystem.count(k)) continue;
    if (std::string why = CustomFieldError(k, kv.value()); !why.empty()) {
      errors[k] = why;
    } else {
      issue.custom[k] = json::serialize(kv.value());
    }
  }
  if (!errors.empty()) return Error(400, {}, errors);
  issue.id = next_id_++;
  issue.key = o_.project + "-" + std::to_string(issues_.size() + 1);
  issue.created_us = issue.updated_us = clock_.NowMicros();
  issues_.push_back(issue);
  return Json(201, json::serialize(json::object{
                       {"id", std::to_string(issue.id)},
                       {"key", issue.key},
                       {"self", o_.base_url + "/rest/api/" + std::to_string(o_.api_version) + "/issue/" +
                                    std::to_string(issue.id)}}));
}

FakeResponse FakeJira::Transitions(const FakeRequest& r, FakeJiraIssue& issue) {
  bool with_fields = r.Query("expand").find("transitions.fields") != std::string::npos;
  std::string api = o_.base_url + "/rest/api/" + std::to_string(o_.api_version);
  json::array list;
  for (int to = 0; to < 3; ++to) {
    if (to == issue.status) continue;
    const WorkflowStatus& s = kStatuses[to];
    json::object t{{"id", kTransitionIds[to]},
                   {"name", s.name},
                   {"to", json::object{{"self", api + "/status/" + s.id}, {"description", ""}, {"iconUrl", ""},
                                       {"name", s.name}, {"id", s.id},
                                       {"statusCategory", json::object{{"self", api + "/statuscategory/" + std::to_string(s.category_id)},
                                                                       {"id", s.category_id},
                                                                       {"key", s.category_key},
                                                                       {"colorName", s.color},
                                                                       {"name", s.category_name}}}}},
                   {"hasScreen", to == 2},
                   {"isGlobal", true},
                   {"isInitial", false},
                   {"isAvailable", true},
                   {"isConditional", false},
                   {"isLooped", false}};
    if (with_fields) {
      json::object fields;
      if (to == 2) {
        json::array allowed;
        int id = 10000;
        for (const auto& res : o_.resolutions) {
          allowed.push_back(json::object{{"self", api + "/resolution/" + std::to_string(id)}, {"name", res},
                                         {"id", std::to_string(id)}});
          ++id;
        }
        fields["resolution"] = json::object{{"required", true},
                                            {"schema", json::object{{"type", "resolution"}, {"system", "resolution"}}},
                                            {"name", "Resolution"},
                                            {"key", "resolution"},
                                            {"hasDefaultValue", false},
                                            {"operations", json::array{"set"}},
                                            {"allowedValues", std::move(allowed)}};
      }
      t["fields"] = std::move(fields);
    }
    list.push_back(std::move(t));
  }
  return Json(200, json::serialize(json::object{{"expand", "transitions"}, {"transitions", std::move(list)}}));
}

FakeResponse FakeJira::DoTransition(const FakeRequest& r, FakeJiraIssue& issue) {
  if (!o_.permissions.count("TRANSITION_ISSUES")) {
    return Error(403, {"You do not have permission to transition this issue."});
  }
  boost::system::error_code ec;
  json::value body = json::parse(r.body, ec);
  const json::value* tr = !ec && body.is_object() ? body.get_object().if_contains("transition") : nullptr;
  const json::value* id = tr && tr->is_object() ? tr->get_object().if_contains("id") : nullptr;
  if (!id || !id->is_string()) return Error(400, {"Missing 'transition' identifier"});
  int to = -1;
  for (int i = 0; i < 3; ++i) {
    if (id->get_string() == kTransitionIds[i] && i != issue.status) to = i;
  }
  if (to < 0) return Error(400, {"Transition id '" + std::string(id->get_string()) + "' is not valid for this issue."});
  std::string resolution;
  if (const json::value* f = body.get_object().if_contains("fields"); f && f->is_object()) {
    for (const auto& kv : f->get_object()) {
      if (kv.key() != "resolution" || to != 2) {
        return Error(400, {}, {{std::string(kv.key()), "Field '" + std::string(kv.key()) +
                                                           "' cannot be set. It is not on the appropriate screen, or unknown."}});
      }
      const json::value* n = kv.value().is_object() ? kv.value().get_object().if_contains("name") : nullptr;
      resolution = n && n->is_string() ? std::string(n->get_string()) : "";
      if (std::find(o_.resolutions.begin(), o_.resolutions.end(), resolution) == o_.resolutions.end()) {
        return Error(400, {}, {{"resolution", "Resolution name '" + resolution + "' is not valid."}});
      }
    }
  }
  if (to == 2 && resolution.empty()) return Error(400, {}, {{"resolution", "Resolution is required."}});
  issue.status = to;
  issue.resolution = resolution;
  issue.updated_us = clock_.NowMicros();
  FakeResponse res;
  res.status = 204;
  return res;
}

std::string FakeJira::CustomFieldError(const std::string& id, const json::value& v) const {
  auto f = o_.custom_fields.find(id);
  if (f == o_.custom_fields.end()) return "Field '" + id + "' cannot be set. It is not on the appropriate screen, or unknown.";
  const std::string& type = f->second.type;
  bool ok = type == "number"   ? v.is_number()
            : type == "option" ? v.is_object() && v.get_object().if_contains("value") &&
                                     v.get_object().at("value").is_string()
            : type == "array"  ? v.is_array() && std::all_of(v.get_array().begin(), v.get_array().end(),
                                                             [](const json::value& x) { return x.is_string(); })
                               : v.is_string();
  if (ok) return "";
  if (type == "number") return "Operation value must be a number";
  if (type == "option") return "Specify a valid 'id' or 'name' for " + f->second.name;
  if (type == "array") return "Operation value must be an array of strings";
  return "Operation value must be a string";
}

FakeResponse FakeJira::EditIssue(const FakeRequest& r, FakeJiraIssue& issue) {
  if (!o_.permissions.count("EDIT_ISSUES")) return Error(403, {"You do not have permission to edit issues in this project."});
  boost::system::error_code ec;
  json::value body = json::parse(r.body, ec);
  const json::value* f = !ec && body.is_object() ? body.get_object().if_contains("fields") : nullptr;
  if (!f || !f->is_object()) return Error(400, {"Can not deserialize the request body: no \"fields\" object."});
  // Validate every field before changing any: Jira applies an edit whole.
  std::map<std::string, std::string> errors;
  std::string priority;
  for (const auto& kv : f->get_object()) {
    std::string k(kv.key());
    if (k == "priority") {
      const json::value* n = kv.value().is_object() ? kv.value().get_object().if_contains("name") : nullptr;
      priority = n && n->is_string() ? std::string(n->get_string()) : "";
      if (std::find(o_.priorities.begin(), o_.priorities.end(), priority) == o_.priorities.end()) {
        errors[k] = "The priority selected is invalid.";
      }
    } else if (std::string why = CustomFieldError(k, kv.value()); !why.empty()) {
      errors[k] = why;
    }
  }
  if (!errors.empty()) return Error(400, {}, errors);
  for (const auto& kv : f->get_object()) {
    if (kv.key() == "priority") {
      issue.priority = priority;
    } else {
      issue.custom[std::string(kv.key())] = json::serialize(kv.value());
    }
  }
  issue.updated_us = clock_.NowMicros();
  FakeResponse res;
  res.status = 204;
  return res;
}

FakeResponse FakeJira::AddComment(const FakeRequest& r, FakeJiraIssue& issue) {
  if (!o_.permissions.count("ADD_COMMENTS")) return Error(403, {"You do not have permission to comment on this issue."});
  boost::system::error_code ec;
  json::value body = json::parse(r.body, ec);
  const json::value* b = !ec && body.is_object() ? body.get_object().if_contains("body") : nullptr;
  std::string why;
  if (!b) return Error(400, {}, {{"comment", "Comment body can not be empty!"}});
  if (o_.api_version == 3 && !ValidDoc(*b, &why)) {
    return Error(400, {}, {{"comment", b->is_string() ? "Comment body must be an Atlassian Document" : "INVALID_INPUT: " + why}});
  }
  if (o_.api_version == 2 && (!b->is_string() || b->get_string().empty())) {
    return Error(400, {}, {{"comment", "Comment body can not be empty!"}});
  }
  issue.comments.push_back({o_.me.display_name, b->is_string() ? std::string(b->get_string()) : json::serialize(*b)});
  issue.updated_us = clock_.NowMicros();
  std::string now = JiraTime(issue.updated_us);
  std::string api = o_.base_url + "/rest/api/" + std::to_string(o_.api_version);
  std::string cid = std::to_string(issue.comments.size() + 10000);
  return Json(201, json::serialize(json::object{
                       {"self", api + "/issue/" + std::to_string(issue.id) + "/comment/" + cid},
                       {"id", cid},
                       {"author", json::object{{"displayName", o_.me.display_name}, {"active", true}}},
                       {"body", *b},
                       {"created", now},
                       {"updated", now}}));
}

// --- Control API ---------------------------------------------------------

FakeResponse FakeJira::Control(const FakeRequest& r) {
  std::vector<std::string> parts = Split(r.path, '/');  // _fake, ...
  boost::system::error_code ec;
  json::value body = r.body.empty() ? json::value(json::object{}) : json::parse(r.body, ec);
  if (ec || !body.is_object()) return Error(400, {"control API: the body must be a JSON object"});
  const json::object& b = body.get_object();
  auto str = [&](const char* k) {
    const json::value* v = b.if_contains(k);
    return v && v->is_string() ? std::string(v->get_string()) : std::string();
  };
  if (parts.size() == 2 && parts[1] == "issues" && r.method == "GET") {
    json::array list;
    for (const auto& i : issues_) {
      list.push_back(json::object{{"key", i.key}, {"status", kStatuses[i.status].name}, {"resolution", i.resolution},
                                  {"priority", i.priority}, {"summary", i.summary},
                                  {"comments", static_cast<int64_t>(i.comments.size())}});
    }
    return Json(200, json::serialize(list));
  }
  if (parts.size() == 2 && parts[1] == "requests" && r.method == "GET") return Json(200, requests_.Json());
  if (parts.size() == 2 && parts[1] == "faults" && r.method == "POST") {
    FakeFault f;
    std::string error;
    if (!ParseFault(b, &f, &error)) return Error(400, {error});
    faults_.Add(std::move(f));
    return Json(200, "{}");
  }
  if (parts.size() == 4 && parts[1] == "issues") {
    FakeJiraIssue* issue = Find(parts[2]);
    if (!issue) return Error(404, {"no issue " + parts[2]});
    int64_t now = clock_.NowMicros();
    if (parts[3] == "move") {
      std::string status = str("status");
      int to = -1;
      for (int i = 0; i < 3; ++i) {
        if (status == kStatuses[i].name) to = i;
      }
      if (to < 0) return Error(400, {"unknown status \"" + status + "\"; use To Do, In Progress, Done"});
      issue->status = to;
      issue->resolution = to == 2 ? (str("resolution").empty() ? "Done" : str("resolution")) : "";
    } else if (parts[3] == "comment") {
      issue->comments.push_back({"SOC Analyst", str("text")});
    } else if (parts[3] == "priority") {
      issue->priority = str("name");
    } else {
      return Error(404, {"unknown control action " + parts[3]});
    }
    issue->updated_us = now;
    return Json(200, IssueJson(*issue, {"status", "updated", "priority", "labels"}));
  }
  return Error(404, {"unknown control endpoint " + r.path});
}

bool FakeJira::Move(const std::string& key, const std::string& status, std::string* error,
                    const std::string& resolution) {
  FakeRequest r = ControlRequest("/_fake/issues/" + key + "/move",
                                 json::serialize(json::object{{"status", status}, {"resolution", resolution}}));
  FakeResponse res = Handle(r);
  if (res.status != 200) *error = res.body;
  return res.status == 200;
}

bool FakeJira::Comment(const std::string& key, const std::string& text) {
  FakeRequest r = ControlRequest("/_fake/issues/" + key + "/comment",
                                 json::serialize(json::object{{"text", text}}));
  return Handle(r).status == 200;
}

bool FakeJira::SetPriority(const std::string& key, const std::string& priority) {
  FakeRequest r = ControlRequest("/_fake/issues/" + key + "/priority",
                                 json::serialize(json::object{{"name", priority}}));
  return Handle(r).status == 200;
}

std::optional<FakeJiraIssue> FakeJira::Issue(const std::string& key) const {
  std::lock_guard lock(mu_);
  for (const auto& i : issues_) {
    if (i.key == key) return i;
  }
  return std::nullopt;
}

std::vector<FakeJiraIssue> FakeJira::Issues() const {
  std::lock_guard lock(mu_);
  return issues_;
}

}  // namespace noxsync::fakes
