#include "tests/fakes/fake_servicenow.h"

#include <algorithm>
#include <cstdio>

#include <boost/beast/core/detail/base64.hpp>
#include <boost/json.hpp>

#include "service/http_server.h"
#include "sync/timestamp.h"

namespace noxsync::fakes {

namespace json = boost::json;

std::string ServiceNowErrorBody(const std::string& message, const std::string& detail) {
  return json::serialize(json::object{
      {"error", json::object{{"message", message}, {"detail", detail.empty() ? json::value(nullptr) : json::value(detail)}}},
      {"status", "failure"}});
}

namespace {

FakeResponse Reply(int status, std::string body) {
  FakeResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

FakeResponse Fail(int status, const std::string& message, const std::string& detail = "") {
  return Reply(status, ServiceNowErrorBody(message, detail));
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

std::string Base64(const std::string& s) {
  std::string out(boost::beast::detail::base64::encoded_size(s.size()), '\0');
  out.resize(boost::beast::detail::base64::encode(out.data(), s.data(), s.size()));
  return out;
}

const std::set<std::string> kReferenceColumns = {"assignment_group", "assigned_to", "caller_id"};
const std::vector<std::string> kColumns = {
    "sys_id", "number", "short_description", "description", "category", "subcategory", "urgency", "impact",
    "priority", "state", "assignment_group", "assigned_to", "caller_id", "correlation_id", "correlation_display",
    "close_code", "close_notes", "work_notes", "comments", "sys_created_on", "sys_updated_on", "sys_mod_count"};

// One term of the sysparm_query subset: field op value, or ORDERBY[DESC]field.
struct Term {
  std::string field, op, value;
};

struct Query {
  std::vector<Term> terms;
  std::string order_by;
  bool descending = false;
};

bool ParseQuery(const std::string& text, const std::set<std::string>& fields, Query* q, std::string* error) {
  for (const auto& part : Split(text, '^')) {
    if (part.rfind("ORDERBYDESC", 0) == 0 || part.rfind("ORDERBY", 0) == 0) {
      bool desc = part.rfind("ORDERBYDESC", 0) == 0;
      q->order_by = part.substr(desc ? 11 : 7);
      q->descending = desc;
      if (!fields.count(q->order_by)) {
        *error = "Invalid ORDERBY field " + q->order_by;
        return false;
      }
      continue;
    }
    size_t op_at = part.find_first_of("=<>!");
    if (op_at == std::string::npos || op_at == 0) {
      *error = "Unsupported query term \"" + part + "\"";
      return false;
    }
    Term t;
    t.field = part.substr(0, op_at);
    size_t op_end = op_at + 1;
    if (op_end < part.size() && part[op_end] == '=') ++op_end;
    t.op = part.substr(op_at, op_end - op_at);
    t.value = part.substr(op_end);
    if (!fields.count(t.field)) {
      *error = "Invalid field \"" + t.field + "\" in the query";
      return false;
    }
    if (t.op != "=" && !(t.op == ">=" && t.field == "sys_updated_on")) {
      *error = "Unsupported operator " + t.op + " on " + t.field + " in this fake";
      return false;
    }
    if (t.field == "sys_updated_on") {
      int64_t ignored;
      std::string iso = t.value;
      if (iso.size() != 19 || iso[10] != ' ' || !ParseTimestamp(iso.substr(0, 10) + "T" + iso.substr(11) + "Z", &ignored)) {
        *error = "Invalid date-time \"" + t.value + "\" for sys_updated_on (yyyy-MM-dd HH:mm:ss)";
        return false;
      }
    }
    q->terms.push_back(std::move(t));
  }
  return true;
}

bool Matches(const std::map<std::string, std::string>& row, const Query& q) {
  for (const auto& t : q.terms) {
    auto it = row.find(t.field);
    std::string v = it == row.end() ? "" : it->second;
    if (t.op == "=" && v != t.value) return false;
    if (t.op == ">=" && v < t.value) return false;  // the date-time format sorts as text
  }
  return true;
}

int Priority(const std::string& urgency, const std::string& impact) {
  int u = std::clamp(std::atoi(urgency.c_str()), 1, 3), i = std::clamp(std::atoi(impact.c_str()), 1, 3);
  return u + i - 1;
}

}  // namespace

FakeServiceNow::FakeServiceNow(const Clock& clock, FakeServiceNowOptions options)
    : clock_(clock), o_(std::move(options)) {}

std::string FakeServiceNow::Now() const {
  std::string t = FormatTimestamp(clock_.NowMicros() / 1000000 * 1000000);
  t[10] = ' ';
  t.pop_back();
  return t;
}

bool FakeServiceNow::Authorized(const FakeRequest& r) const {
  std::string auth = r.Header("authorization");
  if (auth == "Basic " + Base64(o_.username + ":" + o_.password)) return true;
  if (auth.rfind("Bearer ", 0) == 0) {
    auto it = access_tokens_.find(auth.substr(7));
    return it != access_tokens_.end() && it->second > clock_.NowMicros();
  }
  return false;
}

FakeServiceNowRecord* FakeServiceNow::Find(const std::string& ref) {
  for (auto& rec : records_) {
    if (rec.fields["sys_id"] == ref || rec.fields["number"] == ref) return &rec;
  }
  return nullptr;
}

std::string FakeServiceNow::RecordJson(const FakeServiceNowRecord& rec, const std::string& fields,
                                       bool exclude_links) const {
  json::object o;
  std::vector<std::string> want = Split(fields, ',');
  if (want.empty()) {
    want = kColumns;
    want.insert(want.end(), o_.custom_columns.begin(), o_.custom_columns.end());
  }
  for (const auto& f : want) {
    auto it = rec.fields.find(f);
    bool known = it != rec.fields.end() || f == "work_notes" || f == "comments" || o_.custom_columns.count(f) ||
                 std::find(kColumns.begin(), kColumns.end(), f) != kColumns.end();
    if (!known) continue;  // the Table API leaves out columns the table lacks
    std::string v = it == rec.fields.end() ? "" : it->second;
    if (kReferenceColumns.count(f) && !exclude_links && !v.empty()) {
      o[f] = json::object{{"link", "https://fake.service-now.com/api/now/table/sys_user/" + v}, {"value", v}};
    } else {
      o[f] = v;
    }
  }
  return json::serialize(o);
}

FakeResponse FakeServiceNow::Handle(const FakeRequest& r) {
  std::lock_guard lock(mu_);
  if (r.path.rfind("/_fake/", 0) == 0) return Control(r);
  requests_.Add(r);
  int delay = 0;
  auto error_body = [](int status) {
    return ServiceNowErrorBody(status == 429 ? "Too many requests" : "Internal server error",
                               status == 429 ? "Rate limit exceeded for this user" : "");
  };
  if (auto faulty = faults_.Take(r.method + " " + r.path, error_body, &delay)) return *faulty;
  FakeResponse res;
  if (r.path == "/oauth_token.do") {
    res = r.method == "POST" ? Token(r) : Fail(405, "Method not allowed");
  } else if (r.path.rfind("/api/now/table/", 0) == 0) {
    if (!Authorized(r)) {
      res = Fail(401, "User Not Authenticated", "Required to provide Auth information");
    } else {
      res = Table(r, Split(r.path.substr(15), '/'));
    }
  } else {
    res = Fail(400, "Requested URI does not represent any resource", "");
  }
  res.delay_ms = std::max(res.delay_ms, delay);
  return res;
}

FakeResponse FakeServiceNow::Token(const FakeRequest& r) {
  if (r.Header("content-type").rfind("application/x-www-form-urlencoded", 0) != 0) {
    return Reply(400, R"({"error_description":"invalid content type","error":"invalid_request"})");
  }
  std::map<std::string, std::string> form;
  for (const auto& pair : Split(r.body, '&')) {
    size_t eq = pair.find('=');
    form[service::UrlDecode(pair.substr(0, eq), true)] =
        eq == std::string::npos ? "" : service::UrlDecode(pair.substr(eq + 1), true);
  }
  auto denied = [] { return Reply(401, R"({"error_description":"access_denied","error":"server_error"})"); };
  if (form["client_id"] != o_.client_id || form["client_secret"] != o_.client_secret) return denied();
  std::string grant = form["grant_type"];
  bool with_refresh = false;
  if (grant == "password") {
    if (form["username"] != o_.username || form["password"] != o_.password) return denied();
    with_refresh = true;
  } else if (grant == "refresh_token") {
    if (!refresh_tokens_.count(form["refresh_token"])) return denied();
    refresh_tokens_.erase(form["refresh_token"]);
    with_refresh = true;
  } else if (grant != "client_credentials") {
    return Reply(400, R"({"error_description":"unsupported grant type","error":"unsupported_grant_type"})");
  }
  ++tokens_issued_;
  std::string token = "fake-access-" + std::to_string(tokens_issued_);
  access_tokens_[token] = clock_.NowMicros() + o_.token_lifetime_s * 1000000;
  json::object o{{"access_token", token}, {"scope", "useraccount"}, {"token_type", "Bearer"},
                 {"expires_in", o_.token_lifetime_s}};
  if (with_refresh) {
    std::string refresh = "fake-refresh-" + std::to_string(tokens_issued_);
    refresh_tokens_.insert(refresh);
    o["refresh_token"] = refresh;
  }
  return Reply(200, json::serialize(o));
}

FakeResponse FakeServiceNow::Table(const FakeRequest& r, const std::vector<std::string>& parts) {
  if (parts.empty()) return Fail(400, "Invalid table", "");
  const std::string& table = parts[0];
  bool exclude_links = r.Query("sysparm_exclude_reference_link") == "true";
  std::string fields = r.Query("sysparm_fields");
  if (table == "sys_user_has_role" && parts.size() == 1 && r.method == "GET") {
    if (!o_.roles_readable) {
      return Fail(403, "Operation Failed", "ACL Exception Read Failed due to security constraints");
    }
    Query q;
    std::string error;
    if (!ParseQuery(r.Query("sysparm_query"), {"user.user_name"}, &q, &error)) return Fail(400, "Invalid query", error);
    json::array rows;
    bool me = q.terms.size() == 1 && q.terms[0].value == o_.username;
    if (me) {
      for (const auto& role : o_.roles) rows.push_back(json::object{{"role.name", role}});
    }
    return Reply(200, json::serialize(json::object{{"result", std::move(rows)}}));
  }
  if (table != o_.table) return Fail(400, "Invalid table " + table, "");
  bool writer = o_.roles.count("itil") || o_.roles.count("admin");
  if (parts.size() == 1 && r.method == "GET") {
    std::set<std::string> queryable = {"correlation_id", "correlation_display", "number", "sys_updated_on",
                                       "sys_created_on", "state", "sys_id"};
    Query q;
    std::string error;
    if (!ParseQuery(r.Query("sysparm_query"), queryable, &q, &error)) return Fail(400, "Invalid query", error);
    auto number = [&](const char* name, long fallback, long* out) {
      std::string v = r.Query(name);
      if (v.empty()) return (*out = fallback), true;
      if (!std::all_of(v.begin(), v.end(), ::isdigit) || v.size() > 9) return false;
      *out = std::stol(v);
      return true;
    };
    long limit, offset;
    if (!number("sysparm_limit", 10000, &limit) || !number("sysparm_offset", 0, &offset)) {
      return Fail(400, "Invalid sysparm_limit or sysparm_offset", "");
    }
    std::vector<const FakeServiceNowRecord*> hits;
    for (const auto& rec : records_) {
      if (Matches(rec.fields, q)) hits.push_back(&rec);
    }
    if (!q.order_by.empty()) {
      std::stable_sort(hits.begin(), hits.end(), [&](const auto* a, const auto* b) {
        const std::string& x = a->fields.at(q.order_by);
        const std::string& y = b->fields.at(q.order_by);
        return q.descending ? x > y : x < y;
      });
    }
    std::string out = "{\"result\":[";
    for (size_t i = offset, n = 0; i < hits.size() && n < static_cast<size_t>(limit); ++i, ++n) {
      if (n) out += ",";
      out += RecordJson(*hits[i], fields, exclude_links);
    }
    out += "]}";
    FakeResponse res = Reply(200, out);
    res.headers.push_back({"X-Total-Count", std::to_string(hits.size())});
    return res;
  }
  if (parts.size() == 1 && r.method == "POST") {
    if (!writer) return Fail(403, "Operation Failed", "ACL Exception Insert Failed due to security constraints");
    boost::system::error_code ec;
    json::value body = json::parse(r.body, ec);
    if (ec || !body.is_object()) return Fail(400, "Exception while reading request", "The payload is not valid JSON.");
    FakeServiceNowRecord rec;
    for (const auto& c : kColumns) rec.fields[c] = "";
    for (const auto& c : o_.custom_columns) rec.fields[c] = "";
    char sys_id[33];
    std::snprintf(sys_id, sizeof sys_id, "%08x%024x", 0x5a17c0de, static_cast<unsigned>(records_.size() + 1));
    rec.fields["sys_id"] = sys_id;
    char number[16];
    std::snprintf(number, sizeof number, "INC%07zu", records_.size() + 1);
    rec.fields["number"] = number;
    rec.fields["state"] = "1";
    rec.fields["urgency"] = "3";
    rec.fields["impact"] = "3";
    rec.fields["sys_created_on"] = Now();
    rec.fields["sys_mod_count"] = "-1";  // Update() makes it 0
    records_.push_back(rec);
    FakeResponse res = Update(records_.back(), r.body, r);
    if (res.status != 200) {
      records_.pop_back();
      return res;
    }
    res.status = 201;
    res.headers.push_back({"Location", "https://fake.service-now.com/api/now/table/" + o_.table + "/" + sys_id});
    return res;
  }
  if (parts.size() == 2) {
    FakeServiceNowRecord* rec = Find(parts[1]);
    if (!rec || rec->fields["sys_id"] != parts[1]) {
      return Fail(404, "No Record found", "Record doesn't exist or ACL restricts the record retrieval");
    }
    if (r.method == "GET") {
      return Reply(200, "{\"result\":" + RecordJson(*rec, fields, exclude_links) + "}");
    }
    if (r.method == "PATCH" || r.method == "PUT") {
      if (!writer) return Fail(403, "Operation Failed", "ACL Exception Update Failed due to security constraints");
      return Update(*rec, r.body, r);
    }
  }
  return Fail(405, "Method not Supported", "");
}

FakeResponse FakeServiceNow::Update(FakeServiceNowRecord& rec, const std::string& text, const FakeRequest& r) {
  boost::system::error_code ec;
  json::value body = json::parse(text, ec);
  if (ec || !body.is_object()) return Fail(400, "Exception while reading request", "The payload is not valid JSON.");
  std::map<std::string, std::string> next = rec.fields;
  std::vector<std::string> notes, comments;
  for (const auto& kv : body.get_object()) {
    std::string k(kv.key());
    std::string v = kv.value().is_string() ? std::string(kv.value().get_string())
                                           : kv.value().is_null() ? "" : json::serialize(kv.value());
    if (k == "work_notes") {
      if (!v.empty()) notes.push_back(v);
    } else if (k == "comments") {
      if (!v.empty()) comments.push_back(v);
    } else if (k.rfind("sys_", 0) == 0 || k == "number" || k == "priority") {
      continue;  // system fields and the computed priority are not writable
    } else if (next.count(k)) {
      next[k] = v;
    }  // unknown columns: dropped without an error, as the Table API does
  }
  // Data policy: a resolved or closed incident needs a resolution code and notes.
  if ((next["state"] == "6" || next["state"] == "7") && (next["close_code"].empty() || next["close_notes"].empty())) {
    std::string detail = "Data Policy Exception: ";
    if (next["close_code"].empty()) detail += "\n Resolution code is mandatory";
    if (next["close_notes"].empty()) detail += "\n Resolution notes is mandatory";
    return Fail(403, "Operation Failed", detail);
  }
  next["priority"] = std::to_string(Priority(next["urgency"], next["impact"]));
  next["sys_updated_on"] = Now();
  next["sys_mod_count"] = std::to_string(std::atoi(next["sys_mod_count"].c_str()) + 1);
  rec.fields = std::move(next);
  rec.work_notes.insert(rec.work_notes.end(), notes.begin(), notes.end());
  rec.comments.insert(rec.comments.end(), comments.begin(), comments.end());
  return Reply(200, "{\"result\":" +
                        RecordJson(rec, r.Query("sysparm_fields"), r.Query("sysparm_exclude_reference_link") == "true") +
                        "}");
}

FakeResponse FakeServiceNow::Control(const FakeRequest& r) {
  std::vector<std::string> parts = Split(r.path, '/');
  boost::system::error_code ec;
  json::value body = r.body.empty() ? json::value(json::object{}) : json::parse(r.body, ec);
  if (ec || !body.is_object()) return Fail(400, "control API: the body must be a JSON object");
  const json::object& b = body.get_object();
  auto str = [&](const char* k) {
    const json::value* v = b.if_contains(k);
    return v && v->is_string() ? std::string(v->get_string()) : std::string();
  };
  if (parts.size() == 2 && parts[1] == "records" && r.method == "GET") {
    json::array list;
    for (const auto& rec : records_) list.push_back(json::parse(RecordJson(rec, "", true)));
    return Reply(200, json::serialize(list));
  }
  if (parts.size() == 2 && parts[1] == "requests" && r.method == "GET") return Reply(200, requests_.Json());
  if (parts.size() == 2 && parts[1] == "faults" && r.method == "POST") {
    FakeFault f;
    std::string error;
    if (!ParseFault(b, &f, &error)) return Fail(400, error);
    faults_.Add(std::move(f));
    return Reply(200, "{}");
  }
  if (parts.size() == 2 && parts[1] == "expire_tokens" && r.method == "POST") {
    access_tokens_.clear();
    return Reply(200, "{}");
  }
  if (parts.size() == 4 && parts[1] == "records") {
    FakeServiceNowRecord* rec = Find(parts[2]);
    if (!rec) return Fail(404, "no record " + parts[2]);
    json::object patch;
    if (parts[3] == "state") {
      std::string state = str("state");
      static const std::set<std::string> kStates = {"1", "2", "3", "6", "7", "8"};
      if (!kStates.count(state)) return Fail(400, "unknown state \"" + state + "\"; use 1, 2, 3, 6, 7, 8");
      patch["state"] = state;
      if (state == "6" || state == "7") {
        patch["close_code"] = str("close_code").empty() ? "Solved (Permanently)" : str("close_code");
        patch["close_notes"] = str("close_notes").empty() ? "Handled by the SOC." : str("close_notes");
      }
    } else if (parts[3] == "work_note") {
      patch["work_notes"] = str("text");
    } else if (parts[3] == "assign") {
      patch["assigned_to"] = str("assigned_to");
    } else {
      return Fail(404, "unknown control action " + parts[3]);
    }
    FakeRequest inner;
    return Update(*rec, json::serialize(patch), inner);
  }
  return Fail(404, "unknown control endpoint " + r.path);
}

bool FakeServiceNow::SetState(const std::string& ref, const std::string& state, std::string* error) {
  FakeRequest r = ControlRequest("/_fake/records/" + ref + "/state",
                                 json::serialize(json::object{{"state", state}}));
  FakeResponse res = Handle(r);
  if (res.status != 200) *error = res.body;
  return res.status == 200;
}

bool FakeServiceNow::WorkNote(const std::string& ref, const std::string& text) {
  FakeRequest r = ControlRequest("/_fake/records/" + ref + "/work_note",
                                 json::serialize(json::object{{"text", text}}));
  return Handle(r).status == 200;
}

bool FakeServiceNow::Assign(const std::string& ref, const std::string& user) {
  FakeRequest r = ControlRequest("/_fake/records/" + ref + "/assign",
                                 json::serialize(json::object{{"assigned_to", user}}));
  return Handle(r).status == 200;
}

void FakeServiceNow::ExpireTokens() {
  std::lock_guard lock(mu_);
  access_tokens_.clear();
}

int FakeServiceNow::tokens_issued() const {
  std::lock_guard lock(mu_);
  return tokens_issued_;
}

std::optional<FakeServiceNowRecord> FakeServiceNow::Record(const std::string& ref) const {
  std::lock_guard lock(mu_);
  for (const auto& rec : records_) {
    if (rec.fields.at("sys_id") == ref || rec.fields.at("number") == ref) return rec;
  }
  return std::nullopt;
}

std::vector<FakeServiceNowRecord> FakeServiceNow::Records() const {
  std::lock_guard lock(mu_);
  return records_;
}

}  // namespace noxsync::fakes
