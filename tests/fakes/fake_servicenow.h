// FakeServiceNow: a stateful stand-in for ServiceNow's Table API and OAuth
// token endpoint, as strict as the instance where it matters to noxsync.
//
// It keeps one task table (default `incident`) whose records have a sys_id,
// a number INC0000001..., state, urgency, impact, a priority computed from
// them (the out-of-box lookup), sys_mod_count, and UTC sys_created_on /
// sys_updated_on from an injected clock. Unknown columns on insert are
// dropped silently, as the Table API does. A data policy refuses resolving or
// closing without close_code and close_notes. The sysparm_query subset the
// adapter uses is parsed strictly; anything else is a 400 in ServiceNow's
// error shape. Basic auth and OAuth (password, client-credentials and
// refresh-token grants on /oauth_token.do) with expiring tokens; roles on
// sys_user_has_role; faults per endpoint; a control API under /_fake/ to act
// as a person; a record of requests. Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "sync/clock.h"
#include "tests/fakes/fake_kit.h"
#include "tests/fakes/http_server.h"

namespace noxsync::fakes {

struct FakeServiceNowOptions {
  std::string table = "incident";
  std::string username = "svc_noxsync";
  std::string password = "fake-servicenow-password";
  std::string client_id = "fake-oauth-client";
  std::string client_secret = "fake-oauth-secret";
  int64_t token_lifetime_s = 1800;
  std::set<std::string> roles = {"itil"};
  bool roles_readable = true;
  std::set<std::string> custom_columns = {"u_noxys_event_id", "u_risk_score", "u_classifications",
                                          "u_platform_name"};
};

struct FakeServiceNowRecord {
  std::map<std::string, std::string> fields;  // every column, as strings
  std::vector<std::string> work_notes;
  std::vector<std::string> comments;
};

class FakeServiceNow : public FakeBackendBase {
 public:
  FakeServiceNow(const Clock& clock, FakeServiceNowOptions options);

  FakeResponse Handle(const FakeRequest& request);

  // --- Acting as a person in ServiceNow (number or sys_id) ---
  // Sets the state; resolving fills close fields a person would fill.
  bool SetState(const std::string& ref, const std::string& state, std::string* error);
  bool WorkNote(const std::string& ref, const std::string& text);
  bool Assign(const std::string& ref, const std::string& user);

  // Every access token stops working now (as if revoked).
  void ExpireTokens();
  int tokens_issued() const;

  std::optional<FakeServiceNowRecord> Record(const std::string& ref) const;
  std::vector<FakeServiceNowRecord> Records() const;
  const FakeServiceNowOptions& options() const { return o_; }

 private:
  FakeResponse Table(const FakeRequest& r, const std::vector<std::string>& parts);
  FakeResponse Token(const FakeRequest& r);
  FakeResponse Control(const FakeRequest& r);
  FakeResponse Update(FakeServiceNowRecord& rec, const std::string& body, const FakeRequest& r);
  bool Authorized(const FakeRequest& r) const;
  FakeServiceNowRecord* Find(const std::string& ref);
  std::string Now() const;
  std::string RecordJson(const FakeServiceNowRecord& rec, const std::string& fields, bool exclude_links) const;

  const Clock& clock_;
  FakeServiceNowOptions o_;
  std::vector<FakeServiceNowRecord> records_;
  std::map<std::string, int64_t> access_tokens_;  // token -> expiry (us)
  std::set<std::string> refresh_tokens_;
  int tokens_issued_ = 0;
};

// ServiceNow's error body: {"error":{"message":..,"detail":..},"status":"failure"}.
std::string ServiceNowErrorBody(const std::string& message, const std::string& detail);

}  // namespace noxsync::fakes
