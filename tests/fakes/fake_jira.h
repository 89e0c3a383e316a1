// FakeJira: a stateful stand-in for Jira's REST API (v3 Cloud or v2 Data
// Center), faithful enough that an adapter passing against it should pass
// against Jira. It keeps one project with issue types, priorities, users,
// components and custom fields; issues with labels, comments and `updated`
// times from an injected clock; and a workflow To Do <-> In Progress <-> Done
// whose transition to Done requires a resolution.
//
// Strict where Jira is: the JQL subset the adapter uses is parsed and
// anything else is a 400 in Jira's error shape; a plain-string description on
// v3 is refused as Jira refuses it; unknown fields cannot be set; bad
// credentials get 401. Faults can be injected per endpoint (429 with
// Retry-After, 500/503, slow, truncated or malformed replies, resets).
//
// A person's actions (move, comment, change priority) come through methods
// here or the control API under /_fake/ (no auth; bind it to loopback). Every
// request is recorded, without its Authorization value. Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <boost/json/fwd.hpp>

#include "sync/clock.h"
#include "sync/time_zone.h"
#include "tests/fakes/fake_kit.h"
#include "tests/fakes/http_server.h"

namespace noxsync::fakes {

struct FakeJiraUser {
  std::string account_id;  // v3 identity
  std::string name;        // v2 (Data Center) username
  std::string email;
  std::string display_name;
};

// A custom field: its name, and the schema type that decides what value
// Jira accepts ("string", "number", "option", "array").
struct FakeJiraField {
  std::string name;
  std::string type;
};

struct FakeJiraOptions {
  int api_version = 3;
  std::string base_url = "http://127.0.0.1";  // for self links and /browse
  // The API user: v3 Basic email:api_token; v2 Basic username:password or a
  // personal access token as Bearer.
  FakeJiraUser me{"5b10ac8d82e05b22cc7d4ef5", "noxsync", "noxsync@acme.example", "noxsync integration"};
  std::string api_token = "fake-jira-api-token";
  std::string password = "fake-jira-password";
  std::string personal_access_token = "fake-jira-pat";
  std::string time_zone = "Europe/Paris";
  std::string project = "SEC";
  std::vector<std::string> issue_types = {"Task", "Security"};
  std::vector<std::string> priorities = {"Highest", "High", "Medium", "Low", "Lowest"};
  std::vector<std::string> components = {"Noxys", "Data Protection"};
  // The Noxys guide's fields, as an admin following it would create them.
  std::map<std::string, FakeJiraField> custom_fields = {
      {"customfield_10042", {"Risk Score", "number"}},      {"customfield_10043", {"Platform", "string"}},
      {"customfield_10044", {"User", "string"}},            {"customfield_10045", {"Classifications", "array"}},
      {"customfield_10046", {"Policy Action", "option"}},   {"customfield_10047", {"Noxys Event ID", "string"}}};
  std::set<std::string> permissions = {"BROWSE_PROJECTS", "CREATE_ISSUES", "TRANSITION_ISSUES",
                                       "ADD_COMMENTS", "EDIT_ISSUES"};
  std::vector<FakeJiraUser> users = {
      {"712020:aa11", "soc.lead", "soc.lead@acme.example", "SOC Lead"},
      {"712020:bb22", "analyst", "analyst@acme.example", "SOC Analyst"},
  };
  std::vector<std::string> resolutions = {"Done", "Won't Do", "Duplicate"};
};

struct FakeJiraComment {
  std::string author;  // display name
  std::string body;    // JSON text (ADF on v3) or wiki text on v2
};

struct FakeJiraIssue {
  int64_t id = 0;
  std::string key;
  std::string issue_type;
  std::string summary;
  std::string description;  // JSON text (ADF) on v3, wiki text on v2
  std::vector<std::string> labels;
  std::string priority;
  std::string assignee;  // account id (v3) or username (v2)
  std::vector<std::string> components;
  std::map<std::string, std::string> custom;  // field -> JSON text
  int status = 0;  // index into the workflow: 0 To Do, 1 In Progress, 2 Done
  std::string resolution;
  std::vector<FakeJiraComment> comments;
  int64_t created_us = 0;
  int64_t updated_us = 0;
};

class FakeJira : public FakeBackendBase {
 public:
  FakeJira(const Clock& clock, FakeJiraOptions options);

  // The HTTP handler: REST API and control API.
  FakeResponse Handle(const FakeRequest& request);

  // --- Acting as a person in Jira ---
  // Moves through the workflow (any status, as a person with a board would);
  // false with *error when the issue or status is unknown.
  bool Move(const std::string& key, const std::string& status, std::string* error,
            const std::string& resolution = "Done");
  bool Comment(const std::string& key, const std::string& text);
  bool SetPriority(const std::string& key, const std::string& priority);


  std::optional<FakeJiraIssue> Issue(const std::string& key) const;
  std::vector<FakeJiraIssue> Issues() const;
  void set_base_url(const std::string& url);
  const FakeJiraOptions& options() const { return o_; }

 private:
  FakeResponse Api(const FakeRequest& r, const std::string& rest);
  FakeResponse Control(const FakeRequest& r);
  FakeResponse CreateIssue(const FakeRequest& r);
  FakeResponse Search(const FakeRequest& r, bool enhanced);
  FakeResponse Transitions(const FakeRequest& r, FakeJiraIssue& issue);
  FakeResponse DoTransition(const FakeRequest& r, FakeJiraIssue& issue);
  FakeResponse AddComment(const FakeRequest& r, FakeJiraIssue& issue);
  FakeResponse EditIssue(const FakeRequest& r, FakeJiraIssue& issue);
  // Why Jira would refuse `v` for custom field `id`; "" when it accepts it.
  std::string CustomFieldError(const std::string& id, const boost::json::value& v) const;
  bool Authorized(const FakeRequest& r) const;
  std::string IssueJson(const FakeJiraIssue& issue, const std::set<std::string>& fields) const;
  std::string JiraTime(int64_t utc_us) const;
  FakeJiraIssue* Find(const std::string& key_or_id);

  const Clock& clock_;
  FakeJiraOptions o_;
  TimeZone tz_;
  std::vector<FakeJiraIssue> issues_;
  int64_t next_id_ = 10000;
};

// Jira's error body: {"errorMessages":[...],"errors":{...}}.
std::string JiraErrorBody(const std::vector<std::string>& messages,
                          const std::map<std::string, std::string>& errors = {});

}  // namespace noxsync::fakes
