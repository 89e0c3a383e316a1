#include "cli/config.h"

#include <cstdio>
#include <set>

#include <boost/json.hpp>

namespace noxsync::cli {

std::vector<std::string> NoxsyncConfig::BackendNames() const {
  std::vector<std::string> names;
  if (jira) names.push_back("jira");
  if (servicenow) names.push_back("servicenow");
  return names;
}

NoxsyncConfig LoadConfig(const std::string& path, ConfigProblems* problems) {
  NoxsyncConfig config;
  auto doc = LoadConfigFile(path);
  if (!doc.ok()) {
    problems->errors.push_back(doc.status().message());
    return config;
  }
  const boost::json::object& root = (*doc)->get_object();
  ConfigSection top(root, "", problems);
  if (auto backends = top.Section("backends")) {
    if (auto jira = backends->Section("jira")) config.jira = jira::ReadJiraConfig(&*jira);
    if (auto sn = backends->Section("servicenow")) config.servicenow = servicenow::ReadServiceNowConfig(&*sn);
    backends->Finish();
  }
  std::set<std::string> names;
  for (auto& section : top.SectionList("notifications")) {
    config.notifications.push_back(notify::ReadWebhookConfig(&section));
    const auto& c = config.notifications.back();
    if (!c.name.empty() && !names.insert(c.name).second) {
      section.Error("name", "\"" + c.name + "\" is used by another channel; names must be unique");
    }
  }
  ReadSyncConfig(&top, config.BackendNames(), &config.sync);
  top.Finish();
  return config;
}

void PrintProblems(const std::string& path, const ConfigProblems& problems) {
  for (const auto& w : problems.warnings) std::fprintf(stderr, "noxsync: warning: %s: %s\n", path.c_str(), w.c_str());
  for (const auto& e : problems.errors) {
    // LoadConfigFile's own messages already name the file.
    if (e.rfind(path, 0) == 0) {
      std::fprintf(stderr, "noxsync: %s\n", e.c_str());
    } else {
      std::fprintf(stderr, "noxsync: %s: %s\n", path.c_str(), e.c_str());
    }
  }
}

}  // namespace noxsync::cli
