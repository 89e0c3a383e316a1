#include "adapters/servicenow/servicenow_backend.h"

#include <algorithm>
#include <cctype>
#include <mutex>
#include <set>

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "adapters/http/http_client.h"
#include "adapters/http/reply_reader.h"
#include "store/utf8.h"
#include "sync/timestamp.h"

namespace noxsync::servicenow {

namespace json = boost::json;
using Reader = http::ReplyReader;

std::string BreakCodeTags(std::string text) {
  for (size_t i = text.find('['); i != std::string::npos; i = text.find('[', i + 1)) {
    size_t j = i + 1;
    if (j < text.size() && text[j] == '/') ++j;
    static constexpr std::string_view kTag = "code]";
    if (text.size() - j < kTag.size()) break;
    bool tag = true;
    for (size_t k = 0; k < kTag.size() && tag; ++k) {
      tag = std::tolower(static_cast<unsigned char>(text[j + k])) == kTag[k];
    }
    if (!tag) continue;
    text[i] = '(';
    text[j + kTag.size() - 1] = ')';
  }
  return text;
}

bool ParseServiceNowTime(std::string_view s, int64_t* micros) {
  if (s.size() != 19 || s[10] != ' ') return false;
  std::string iso(s);
  iso[10] = 'T';
  iso += 'Z';
  return ParseTimestamp(iso, micros);
}

std::string FormatServiceNowTime(int64_t micros) {
  int64_t floor_s = micros >= 0 ? micros / 1000000 : -((-micros + 999999) / 1000000);
  std::string t = FormatTimestamp(floor_s * 1000000);  // 2026-11-29T07:58:00Z
  t[10] = ' ';
  t.pop_back();
  return t;
}

int UrgencyFor(const ServiceNowConfig& c, int64_t risk_ppm) {
  if (risk_ppm >= static_cast<int64_t>(c.urgency_high_risk * 1e6 + 0.5)) return 1;
  if (risk_ppm >= static_cast<int64_t>(c.urgency_medium_risk * 1e6 + 0.5)) return 2;
  return 3;
}

int ImpactFor(const ServiceNowConfig& c, const std::vector<std::string>& types) {
  int impact = c.default_impact;
  for (const auto& t : types) {
    auto it = c.impact_by_classification.find(t);
    impact = std::min(impact, it == c.impact_by_classification.end() ? c.default_impact : it->second);
  }
  return impact;
}

namespace {

// What noxsync reads of a record; kept small, as the reference advises.
constexpr const char* kFields = "sys_id,number,state,sys_updated_on,sys_mod_count,correlation_id,priority";

bool IsSysId(std::string_view s) {
  return s.size() == 32 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// ServiceNow's error body: {"error":{"message":...,"detail":...},"status":"failure"}.
std::string ServiceNowMessage(const std::string& body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return "";
  const json::value* err = v.get_object().if_contains("error");
  if (!err || !err->is_object()) return "";
  std::string out;
  if (auto* m = err->get_object().if_contains("message"); m && m->is_string()) out = m->get_string();
  if (auto* d = err->get_object().if_contains("detail"); d && d->is_string() && !d->get_string().empty()) {
    out += (out.empty() ? "" : " (") + std::string(d->get_string()) + (out.empty() ? "" : ")");
  }
  return out;
}

std::string FormEncode(std::initializer_list<std::pair<const char*, const std::string*>> fields) {
  std::string out;
  for (const auto& [k, v] : fields) {
    if (!out.empty()) out += '&';
    out += k;
    out += '=';
    out += http::UrlEncode(*v);
  }
  return out;
}

class ServiceNowBackend final : public Backend {
 public:
  ServiceNowBackend(ServiceNowConfig config, std::unique_ptr<http::HttpClient> client, const Clock& clock)
      : c_(std::move(config)), http_(std::move(client)), clock_(clock) {
    table_path_ = "/api/now/table/" + c_.table;
    for (const auto& [status, value] : c_.states) {
      if (!incoming_.count(value)) incoming_[value] = status;
    }
    for (const auto& [value, status] : c_.incoming_states) incoming_.emplace(value, status);
  }

  std::string_view name() const override { return "servicenow"; }
  Result<ConnectionReport> TestConnection() override;
  Result<std::optional<Ticket>> FindByIncident(std::string_view incident_id) override;
  Result<Ticket> Create(const NewTicket& ticket) override;
  Result<Ticket> Get(std::string_view ref) override;
  Result<TicketPage> ChangedSince(int64_t since_us, std::string_view page_token) override;
  Result<Ticket> MoveTo(std::string_view ref, IncidentStatus target) override;
  Status AddComment(std::string_view ref, const Comment& comment) override;
  Result<Ticket> SetPriority(std::string_view ref, Severity severity) override;

 private:
  struct Reply {
    Status status;
    json::value body;
  };
  Reply Call(const std::string& method, const std::string& path, const std::string& what, int expect,
             const json::value* body = nullptr, bool idempotent_write = false);
  Status FromHttp(const http::Outcome& out, const std::string& what);
  Result<std::string> AuthHeader(bool force_new);
  Status FetchToken(bool allow_refresh);
  Result<Ticket> ParseRecord(const json::value& record, const std::string& what);
  Result<std::vector<Ticket>> Query(const std::string& query, int limit, int offset, const std::string& what,
                                    std::vector<std::string>* raw_updated = nullptr);
  Result<std::string> SysIdFor(std::string_view ref);

  ServiceNowConfig c_;
  std::unique_ptr<http::HttpClient> http_;
  const Clock& clock_;
  std::string table_path_;
  std::map<std::string, IncidentStatus> incoming_;  // state value -> Noxys status

  std::mutex token_mu_;  // guards the OAuth token
  Secret access_token_;
  Secret refresh_token_;
  int64_t token_expires_us_ = 0;
  int64_t token_lifetime_us_ = 0;
};

Status ServiceNowBackend::FromHttp(const http::Outcome& out, const std::string& what) {
  if (!out.ok()) {
    return Status::Unavailable("cannot reach ServiceNow for " + what + " (" + http::FailureName(out.failure) +
                               "): " + out.error);
  }
  int s = out.response.status;
  std::string detail = ServiceNowMessage(out.response.body);
  std::string suffix = detail.empty() ? "" : ": " + detail;
  std::string head = "ServiceNow refused " + what + " (HTTP " + std::to_string(s) + ")";
  switch (s) {
    case 401:
      return Status::Unauthenticated("ServiceNow rejected the credentials of " + c_.Who() + " (HTTP 401) for " +
                                     what + suffix + "; check backends.servicenow.username and password" +
                                     (c_.auth == AuthKind::kBasic ? "" : ", client_id and client_secret"));
    case 403:
      return Status::PermissionDenied(head + suffix + "; give " + c_.Who() + " the rights on table " + c_.table +
                                      " (the itil role, or an ACL for the integration user)");
    case 404: return Status::NotFound(head + suffix);
    case 400:
      if (detail.find("Invalid table") != std::string::npos) {
        return Status::NotFound("ServiceNow has no table \"" + c_.table + "\" that " + c_.Who() +
                                " may read; check backends.servicenow.table" + suffix);
      }
      return Status::InvalidArgument(head + suffix);
    default:
      if (s == 429 || s >= 500) {
        return Status::Unavailable("ServiceNow is unavailable for " + what + ": HTTP " + std::to_string(s) +
                                   " after " + std::to_string(out.attempts) + " attempt(s)" + suffix);
      }
      return Status::Unavailable(head + suffix);
  }
}

Status ServiceNowBackend::FetchToken(bool allow_refresh) {
  static const std::string kPassword = "password", kClient = "client_credentials", kRefresh = "refresh_token";
  std::string body;
  bool refreshing = allow_refresh && !refresh_token_.empty();
  if (refreshing) {
    body = FormEncode({{"grant_type", &kRefresh}, {"client_id", &c_.client_id},
                       {"client_secret", &c_.client_secret.reveal()}, {"refresh_token", &refresh_token_.reveal()}});
  } else if (c_.auth == AuthKind::kOAuthPassword) {
    body = FormEncode({{"grant_type", &kPassword}, {"client_id", &c_.client_id},
                       {"client_secret", &c_.client_secret.reveal()}, {"username", &c_.username},
                       {"password", &c_.password.reveal()}});
  } else {
    body = FormEncode({{"grant_type", &kClient}, {"client_id", &c_.client_id},
                       {"client_secret", &c_.client_secret.reveal()}});
  }
  http::Request req;
  req.method = "POST";
  req.url = c_.instance_url + "/oauth_token.do";
  req.what = refreshing ? "POST /oauth_token.do (refresh)" : "POST /oauth_token.do";
  req.idempotent = true;  // asking for a token twice is harmless
  req.headers.push_back({"Content-Type", "application/x-www-form-urlencoded"});
  req.headers.push_back({"Accept", "application/json"});
  req.body = std::move(body);
  http::Outcome out = http_->Send(req);
  std::fill(req.body.begin(), req.body.end(), '\0');
  if (!out.ok()) return FromHttp(out, req.what);
  if (out.response.status != 200) {
    if (refreshing) {
      refresh_token_ = Secret();
      return FetchToken(false);  // the refresh token expired: a new grant
    }
    std::string reason;
    boost::system::error_code ec;
    json::value v = json::parse(out.response.body, ec);
    if (!ec && v.is_object()) {
      for (const char* k : {"error", "error_description"}) {
        if (auto* e = v.get_object().if_contains(k); e && e->is_string()) {
          reason += (reason.empty() ? "" : ": ") + std::string(e->get_string());
        }
      }
    }
    return Status::Unauthenticated("ServiceNow refused the OAuth token request of client " + c_.client_id +
                                   " (HTTP " + std::to_string(out.response.status) + (reason.empty() ? "" : ", " + reason) +
                                   "); check client_id, client_secret" +
                                   (c_.auth == AuthKind::kOAuthPassword ? ", username and password" : "") +
                                   " and the OAuth application's grant type (System OAuth > Application Registry)");
  }
  boost::system::error_code ec;
  json::value v = json::parse(out.response.body, ec);
  Reader r("ServiceNow", req.what);
  const json::object* o = ec ? nullptr : r.Obj(&v, "an object");
  std::string token = r.Str(o, "access_token", "access_token");
  const json::value* expires = o ? o->if_contains("expires_in") : nullptr;
  if (r.failed() || !expires || !expires->is_number()) {
    return Status::Unavailable(r.failed() ? r.error() : req.what + ": expires_in missing from the token reply");
  }
  access_token_ = Secret(std::move(token));
  std::string refresh = r.OptStr(o, "refresh_token", "refresh_token");
  if (!refresh.empty()) refresh_token_ = Secret(std::move(refresh));
  token_lifetime_us_ = static_cast<int64_t>(expires->to_number<double>() * 1e6);
  token_expires_us_ = clock_.NowMicros() + token_lifetime_us_;
  spdlog::info("servicenow: obtained an OAuth access token for client {}, valid {} s", c_.client_id,
               token_lifetime_us_ / 1'000'000);
  return Status::Ok();
}

Result<std::string> ServiceNowBackend::AuthHeader(bool force_new) {
  if (c_.auth == AuthKind::kBasic) return http::BasicAuth(c_.username, c_.password);
  std::lock_guard lock(token_mu_);
  // Refresh ahead of expiry: a tenth of the lifetime, at least a minute.
  int64_t margin = std::max<int64_t>(60'000'000, token_lifetime_us_ / 10);
  if (force_new || access_token_.empty() || clock_.NowMicros() + margin >= token_expires_us_) {
    Status s = FetchToken(!force_new);
    if (!s.ok()) return s;
  }
  return "Bearer " + access_token_.reveal();
}

ServiceNowBackend::Reply ServiceNowBackend::Call(const std::string& method, const std::string& path,
                                                 const std::string& what, int expect, const json::value* body,
                                                 bool idempotent_write) {
  Reply r;
  for (int round = 0; round < 2; ++round) {
    auto auth = AuthHeader(round > 0);
    if (!auth.ok()) {
      r.status = auth.status();
      return r;
    }
    http::Request req;
    req.method = method;
    req.url = c_.instance_url + path;
    req.what = what;
    if (idempotent_write) req.idempotent = true;
    req.headers.push_back({"Authorization", *auth});
    req.headers.push_back({"Accept", "application/json"});
    if (body) {
      req.headers.push_back({"Content-Type", "application/json"});
      req.body = json::serialize(*body);
    }
    http::Outcome out = http_->Send(req);
    // An OAuth token revoked or expired early: one new token, one more try.
    if (out.ok() && out.response.status == 401 && c_.auth != AuthKind::kBasic && round == 0) continue;
    if (!out.ok() || out.response.status != expect) {
      r.status = FromHttp(out, what);
      return r;
    }
    boost::system::error_code ec;
    r.body = json::parse(out.response.body, ec);
    if (ec) {
      r.status = Status::Unavailable("ServiceNow's reply to " + what + " is not valid JSON (" + ec.message() +
                                     "); is instance_url the instance itself, not a login or proxy page?");
    }
    return r;
  }
  return r;
}

Result<Ticket> ServiceNowBackend::ParseRecord(const json::value& record, const std::string& what) {
  Reader r("ServiceNow", what);
  const json::object* o = r.Obj(&record, "result");
  Ticket t;
  t.id = r.Str(o, "sys_id", "result.sys_id");
  t.key = r.Str(o, "number", "result.number");
  t.raw_status = r.Str(o, "state", "result.state");
  std::string updated = r.Str(o, "sys_updated_on", "result.sys_updated_on");
  t.version = r.Str(o, "sys_mod_count", "result.sys_mod_count");
  t.incident_id = r.Str(o, "correlation_id", "result.correlation_id");
  t.priority = r.Str(o, "priority", "result.priority");
  if (!r.failed() && !ParseServiceNowTime(updated, &t.updated_us)) r.Fail("result.sys_updated_on", "a UTC date-time");
  if (!r.failed() && (t.version.empty() || !std::all_of(t.version.begin(), t.version.end(), ::isdigit))) {
    r.Fail("result.sys_mod_count", "a count");
  }
  if (r.failed()) return Status::Unavailable(r.error());
  auto it = incoming_.find(t.raw_status);
  t.status = it != incoming_.end() ? it->second : IncidentStatus::kOpen;
  if (it == incoming_.end()) {
    spdlog::warn("servicenow: {} is in state {}, which no setting maps; read as Open (see incoming_states)", t.key,
                 t.raw_status);
  }
  t.url = c_.instance_url + "/" + c_.table + ".do?sys_id=" + t.id;
  return t;
}

Result<std::vector<Ticket>> ServiceNowBackend::Query(const std::string& query, int limit, int offset,
                                                     const std::string& what, std::vector<std::string>* raw_updated) {
  std::string path = table_path_ + "?sysparm_query=" + http::UrlEncode(query) + "&sysparm_fields=" +
                     http::UrlEncode(kFields) + "&sysparm_exclude_reference_link=true&sysparm_limit=" +
                     std::to_string(limit) + "&sysparm_offset=" + std::to_string(offset);
  Reply r = Call("GET", path, what, 200);
  if (!r.status.ok()) return r.status;
  Reader rd("ServiceNow", what);
  const json::array* rows = rd.Arr(rd.Obj(&r.body, "an object"), "result", "result");
  if (rd.failed()) return Status::Unavailable(rd.error());
  std::vector<Ticket> out;
  for (const auto& row : *rows) {
    auto t = ParseRecord(row, what);
    if (!t.ok()) return t.status();
    if (raw_updated) raw_updated->push_back(std::string(row.get_object().at("sys_updated_on").get_string()));
    out.push_back(std::move(t).value());
  }
  return out;
}

Result<std::string> ServiceNowBackend::SysIdFor(std::string_view ref) {
  if (IsSysId(ref)) return std::string(ref);
  auto t = Get(ref);
  if (!t.ok()) return t.status();
  return t->id;
}

Result<ConnectionReport> ServiceNowBackend::TestConnection() {
  ConnectionReport report;
  report.user = c_.username.empty() ? "OAuth client " + c_.client_id : c_.username;
  std::string what = "GET " + table_path_;
  Reply r = Call("GET", table_path_ + "?sysparm_limit=1&sysparm_fields=sys_id", what, 200);
  if (!r.status.ok()) return r.status;
  Reader rd("ServiceNow", what);
  rd.Arr(rd.Obj(&r.body, "an object"), "result", "result");
  if (rd.failed()) return Status::Unavailable(rd.error());

  // Create and update rights come from roles (ACLs on the table check them).
  if (c_.username.empty()) {
    report.warnings.push_back("rights to create and update not checked: set backends.servicenow.username to the "
                              "OAuth application's user");
  } else if (!c_.required_roles.empty()) {
    std::string rwhat = "GET /api/now/table/sys_user_has_role";
    Reply roles = Call("GET", "/api/now/table/sys_user_has_role?sysparm_query=" +
                                  http::UrlEncode("user.user_name=" + c_.username) +
                                  "&sysparm_fields=role.name&sysparm_exclude_reference_link=true&sysparm_limit=500",
                       rwhat, 200);
    if (roles.status.code() == Status::Code::kPermissionDenied) {
      report.warnings.push_back(c_.username + " may not read sys_user_has_role, so its rights to create and update " +
                                c_.table + " records were not checked");
    } else if (!roles.status.ok()) {
      return roles.status;
    } else {
      Reader rr("ServiceNow", rwhat);
      const json::array* rows = rr.Arr(rr.Obj(&roles.body, "an object"), "result", "result");
      if (rr.failed()) return Status::Unavailable(rr.error());
      std::set<std::string> have;
      for (const auto& row : *rows) have.insert(rr.Str(rr.Obj(&row, "result[]"), "role.name", "result[].role.name"));
      if (rr.failed()) return Status::Unavailable(rr.error());
      bool ok = have.count("admin") > 0;
      std::string wanted;
      for (const auto& role : c_.required_roles) {
        ok = ok || have.count(role);
        wanted += (wanted.empty() ? "" : " or ") + role;
      }
      if (!ok) {
        return Status::PermissionDenied(c_.username + " lacks the role " + wanted + ", needed to create and update " +
                                        c_.table + " records; grant it (User Administration > Users > Roles)");
      }
    }
  }
  report.summary = "table " + c_.table;
  return report;
}

Result<std::optional<Ticket>> ServiceNowBackend::FindByIncident(std::string_view incident_id) {
  if (incident_id.find_first_of("^=,") != std::string_view::npos) {
    return Status::InvalidArgument("incident id \"" + std::string(incident_id) + "\" cannot be queried in ServiceNow");
  }
  auto rows = Query("correlation_id=" + std::string(incident_id) + "^ORDERBYsys_created_on", 10, 0,
                    "GET " + table_path_ + " (correlation_id " + std::string(incident_id) + ")");
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return std::optional<Ticket>();
  if (rows->size() > 1) {
    spdlog::warn("servicenow: incident {} has {} records; noxsync keeps the oldest, {}", incident_id, rows->size(),
                 rows->front().key);
  }
  return std::optional<Ticket>(rows->front());
}

Result<Ticket> ServiceNowBackend::Get(std::string_view ref) {
  if (IsSysId(ref)) {
    std::string what = "GET " + table_path_ + "/" + std::string(ref);
    Reply r = Call("GET", table_path_ + "/" + std::string(ref) + "?sysparm_fields=" + http::UrlEncode(kFields) +
                              "&sysparm_exclude_reference_link=true",
                   what, 200);
    if (!r.status.ok()) return r.status;
    Reader rd("ServiceNow", what);
    const json::object* o = rd.Obj(&r.body, "an object");
    if (rd.failed() || !o->contains("result")) return Status::Unavailable(what + ": no result in ServiceNow's reply");
    return ParseRecord(o->at("result"), what);
  }
  if (ref.empty() || ref.find_first_of("^=,") != std::string_view::npos) {
    return Status::InvalidArgument("\"" + std::string(ref) + "\" is neither a sys_id nor a record number");
  }
  auto rows = Query("number=" + std::string(ref), 1, 0, "GET " + table_path_ + " (number " + std::string(ref) + ")");
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return Status::NotFound("ServiceNow has no " + c_.table + " record " + std::string(ref));
  return rows->front();
}

Result<Ticket> ServiceNowBackend::Create(const NewTicket& t) {
  json::object rec;
  // short_description is 160 characters on the incident table.
  std::string summary = t.summary;
  std::replace_if(summary.begin(), summary.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
  if (summary.size() > 160) summary = std::string(Utf8Prefix(summary, 157)) + "...";
  rec["short_description"] = BreakCodeTags(std::move(summary));
  std::string description = t.description;
  if (!t.facts.empty()) {
    description += "\n";
    for (const auto& [k, v] : t.facts) description += "\n" + k + ": " + v;
  }
  if (!t.classifications.empty()) {
    description += "\n\nClassifications:";
    for (const auto& c : t.classifications) description += "\n- " + c;
  }
  if (!t.event_id.empty()) description += "\n\nNoxys event: " + t.event_id;
  description += "\nNoxys incident: " + t.incident_id;
  rec["description"] = BreakCodeTags(std::move(description));
  if (!c_.category.empty()) rec["category"] = c_.category;
  if (!c_.subcategory.empty()) rec["subcategory"] = c_.subcategory;
  int urgency = UrgencyFor(c_, t.risk_ppm), impact = ImpactFor(c_, t.classification_types);
  rec["urgency"] = std::to_string(urgency);
  rec["impact"] = std::to_string(impact);
  std::string group = !t.assignment_group.empty() ? t.assignment_group : c_.assignment_group;
  std::string assignee = !t.assignee.empty() ? t.assignee : c_.assigned_to;
  if (!group.empty()) rec["assignment_group"] = group;
  if (!assignee.empty()) rec["assigned_to"] = assignee;
  if (!c_.caller.empty()) rec["caller_id"] = c_.caller;
  rec["correlation_id"] = t.incident_id;
  rec["correlation_display"] = "Noxys";
  std::string fields = kFields;
  for (const auto& [name, value_json] : t.extra_fields) {
    static const std::set<std::string> kOwned = {"priority", "state", "correlation_id", "correlation_display",
                                                 "number", "close_code", "close_notes"};
    bool column = !name.empty() && std::islower(static_cast<unsigned char>(name[0])) &&
                  std::all_of(name.begin(), name.end(), [](char c) {
                    return std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '_';
                  });
    if (!column || kOwned.count(name) || name.rfind("sys_", 0) == 0) {
      return Status::InvalidArgument("field mapping for ServiceNow names \"" + name +
                                     "\", which noxsync cannot set (priority is computed, state and correlation are "
                                     "noxsync's, sys_ columns are the system's)");
    }
    boost::system::error_code ec;
    json::value v = json::parse(value_json, ec);
    if (ec) return Status::InvalidArgument("field " + name + ": value is not JSON: " + value_json);
    if (v.is_string()) v = json::string(BreakCodeTags(std::string(v.get_string())));
    rec[name] = std::move(v);
    fields += "," + name;
  }
  json::value body = std::move(rec);
  std::string what = "POST " + table_path_ + " (incident " + t.incident_id + ")";
  Reply r = Call("POST", table_path_ + "?sysparm_fields=" + http::UrlEncode(fields) + "&sysparm_exclude_reference_link=true",
                 what, 201, &body);
  if (!r.status.ok()) return r.status;
  Reader rd("ServiceNow", what);
  const json::object* o = rd.Obj(&r.body, "an object");
  if (rd.failed() || !o->contains("result")) return Status::Unavailable(what + ": no result in ServiceNow's reply");
  auto created = ParseRecord(o->at("result"), what);
  if (!created.ok()) return created;
  // The Table API drops columns the table does not have, without an error.
  const json::value& result = o->at("result");
  for (const auto& [name, _] : t.extra_fields) {
    if (!result.is_object() || !result.get_object().contains(name)) {
      spdlog::warn("servicenow: table {} has no column {}; {} was created without it (fix the field mapping)",
                   c_.table, name, created->key);
    }
  }
  spdlog::info("servicenow: created {} for incident {} (urgency {}, impact {})", created->key, t.incident_id,
               urgency, impact);
  return created;
}

Result<TicketPage> ServiceNowBackend::ChangedSince(int64_t since_us, std::string_view page_token) {
  // Pages are keyed by time: "<sys_updated_on>|<offset among records at or
  // after it>". A record updated while we page moves to the end; with plain
  // offsets the records behind it would shift forward and one be skipped.
  std::string from = FormatServiceNowTime(since_us - static_cast<int64_t>(c_.poll_overlap_seconds) * 1'000'000);
  int offset = 0;
  if (!page_token.empty()) {
    size_t bar = page_token.find('|');
    int64_t ignored;
    if (bar == std::string_view::npos || !ParseServiceNowTime(page_token.substr(0, bar), &ignored)) {
      return Status::InvalidArgument("not a ServiceNow page token: " + std::string(page_token));
    }
    from = std::string(page_token.substr(0, bar));
    offset = std::atoi(std::string(page_token.substr(bar + 1)).c_str());
  }
  std::vector<std::string> raw;
  auto rows = Query("sys_updated_on>=" + from + "^correlation_display=Noxys^ORDERBYsys_updated_on", c_.page_size,
                    offset, "GET " + table_path_ + " (changed since " + from + ")", &raw);
  if (!rows.ok()) return rows.status();
  TicketPage page;
  if (static_cast<int>(rows->size()) == c_.page_size) {
    const std::string& last = raw.back();
    int at_last = static_cast<int>(std::count(raw.begin(), raw.end(), last));
    page.next_page = last + "|" + std::to_string(last == from ? offset + c_.page_size : at_last);
  }
  std::set<std::pair<std::string, std::string>> seen;
  for (auto& t : *rows) {
    if (t.updated_us >= since_us && seen.emplace(t.id, t.version).second) page.tickets.push_back(std::move(t));
  }
  return page;
}

Result<Ticket> ServiceNowBackend::MoveTo(std::string_view ref, IncidentStatus target) {
  auto current = Get(ref);
  if (!current.ok()) return current.status();
  auto want = c_.states.find(target);
  if (want == c_.states.end() || want->second.empty()) {
    return Status::FailedPrecondition("no ServiceNow state is configured for " + std::string(IncidentStatusName(target)) +
                                      " (backends.servicenow.states)");
  }
  if (current->raw_status == want->second) return current;
  json::object patch{{"state", want->second}};
  if (target == IncidentStatus::kResolved || target == IncidentStatus::kClosed) {
    patch["close_code"] = c_.close_code;
    patch["close_notes"] = c_.close_notes;
  }
  json::value body = std::move(patch);
  std::string what = "PATCH " + table_path_ + "/" + current->key + " (state " + want->second + ")";
  Reply r = Call("PATCH", table_path_ + "/" + current->id + "?sysparm_fields=" + http::UrlEncode(kFields) +
                              "&sysparm_exclude_reference_link=true",
                 what, 200, &body, /*idempotent_write=*/true);
  if (!r.status.ok()) {
    if (r.status.code() == Status::Code::kInvalidArgument || r.status.code() == Status::Code::kPermissionDenied) {
      return Status(r.status.code(), r.status.message() + "; check backends.servicenow.states, close_code and "
                                                          "close_notes against the instance's data policies");
    }
    return r.status;
  }
  Reader rd("ServiceNow", what);
  const json::object* o = rd.Obj(&r.body, "an object");
  if (rd.failed() || !o->contains("result")) return Status::Unavailable(what + ": no result in ServiceNow's reply");
  auto moved = ParseRecord(o->at("result"), what);
  if (moved.ok() && moved->raw_status != want->second) {
    // A business rule or data policy kept the old state without an error.
    return Status::FailedPrecondition("ServiceNow kept " + moved->key + " in state " + moved->raw_status +
                                      " instead of " + want->second + "; a business rule or workflow on the instance "
                                      "prevents it");
  }
  if (moved.ok()) spdlog::info("servicenow: moved {} to {} (state {})", moved->key, IncidentStatusName(target), want->second);
  return moved;
}

Status ServiceNowBackend::AddComment(std::string_view ref, const Comment& comment) {
  auto sys_id = SysIdFor(ref);
  if (!sys_id.ok()) return sys_id.status();
  json::value body = json::object{{"work_notes", BreakCodeTags(comment.text)}};
  std::string what = "PATCH " + table_path_ + "/" + std::string(ref) + " (work note)";
  return Call("PATCH", table_path_ + "/" + *sys_id + "?sysparm_fields=sys_id", what, 200, &body).status;
}

// Urgency and impact whose matrix gives the priority of a severity:
// Critical 1/1 (P1), High 1/2 (P2), Medium 2/2 (P3), Low 3/3 (P5).
std::pair<int, int> UrgencyImpactFor(Severity severity) {
  switch (severity) {
    case Severity::kCritical: return {1, 1};
    case Severity::kHigh: return {1, 2};
    case Severity::kMedium: return {2, 2};
    case Severity::kLow: break;
  }
  return {3, 3};
}

Result<Ticket> ServiceNowBackend::SetPriority(std::string_view ref, Severity severity) {
  auto sys_id = SysIdFor(ref);
  if (!sys_id.ok()) return sys_id.status();
  auto [urgency, impact] = UrgencyImpactFor(severity);
  json::value body = json::object{{"urgency", std::to_string(urgency)}, {"impact", std::to_string(impact)}};
  std::string what = "PATCH " + table_path_ + "/" + std::string(ref) + " (urgency " + std::to_string(urgency) +
                     ", impact " + std::to_string(impact) + ")";
  Reply r = Call("PATCH", table_path_ + "/" + *sys_id + "?sysparm_fields=" + http::UrlEncode(kFields) +
                              "&sysparm_exclude_reference_link=true",
                 what, 200, &body, /*idempotent_write=*/true);
  if (!r.status.ok()) return r.status;
  Reader rd("ServiceNow", what);
  const json::object* o = rd.Obj(&r.body, "an object");
  if (rd.failed() || !o->contains("result")) return Status::Unavailable(what + ": no result in ServiceNow's reply");
  auto changed = ParseRecord(o->at("result"), what);
  if (changed.ok()) {
    spdlog::info("servicenow: set {} to urgency {}, impact {} (priority {})", changed->key, urgency, impact,
                 changed->priority);
  }
  return changed;
}

}  // namespace

Result<std::unique_ptr<Backend>> MakeServiceNowBackend(ServiceNowConfig config, const Clock& clock,
                                                       Sleeper& sleeper) {
  auto client = http::HttpClient::Create(config.http, clock, sleeper);
  if (!client.ok()) return client.status();
  return std::unique_ptr<Backend>(new ServiceNowBackend(std::move(config), std::move(client).value(), clock));
}

}  // namespace noxsync::servicenow
