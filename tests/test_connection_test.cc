// `noxsync test-connection jira` end to end: the binary against the fake
// Jira, over plain HTTP and over TLS with a throw-away CA.
#include <fstream>

#include <gtest/gtest.h>

#include "tests/fakes/fake_jira.h"
#include "tests/fakes/fake_servicenow.h"
#include "tests/fakes/fake_webhooks.h"
#include "tests/fakes/test_support.h"
#include "tests/run_command.h"
#include "tests/temp_dir.h"

namespace noxsync {
namespace {

using testing::RunNoxsync;

class TestConnectionCommand : public ::testing::Test {
 protected:
  void StartFake(fakes::FakeJiraOptions o = {}, const fakes::TlsFiles* tls = nullptr) {
    fake_ = std::make_unique<fakes::FakeJira>(clock_, o);
    server_ = std::make_unique<fakes::FakeHttpServer>();
    std::string error;
    ASSERT_TRUE(server_->Start(0, [this](const fakes::FakeRequest& r) { return fake_->Handle(r); }, &error, tls))
        << error;
    fake_->set_base_url(server_->base_url());
  }
  std::string WriteConfig(const std::string& base_url, const std::string& extra = "") {
    std::string path = dir_.Sub("noxsync.json");
    std::ofstream(path) << R"({"backends":{"jira":{"base_url":")" << base_url
                        << R"(","email":"noxsync@acme.example","api_token":"${NOXSYNC_TEST_JIRA_TOKEN}",)"
                        << R"("project":"SEC","issue_type":"Security")" << extra << "}}}";
    return path;
  }
  testing::CommandResult Run(const std::string& config, const std::string& token = "fake-jira-api-token",
                             const std::string& flags = "") {
    ::setenv("NOXSYNC_TEST_JIRA_TOKEN", token.c_str(), 1);
    auto r = RunNoxsync("test-connection jira --config " + config + " " + flags, dir_.path());
    ::unsetenv("NOXSYNC_TEST_JIRA_TOKEN");
    return r;
  }

  testing::TempDir dir_;
  SystemClock clock_;
  std::unique_ptr<fakes::FakeJira> fake_;
  std::unique_ptr<fakes::FakeHttpServer> server_;
};

TEST_F(TestConnectionCommand, PrintsTheSuccessLine) {
  StartFake();
  auto r = Run(WriteConfig(server_->base_url()));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "✓ Successfully connected to Jira (user noxsync@acme.example, project SEC, issue type Security)\n");
  auto json = Run(WriteConfig(server_->base_url()), "fake-jira-api-token", "--json");
  EXPECT_EQ(json.exit_code, 0);
  EXPECT_EQ(json.out, R"({"backend":"jira","ok":true,"user":"noxsync@acme.example","detail":"project SEC, issue type Security","warnings":[]})"
                      "\n");
}

TEST_F(TestConnectionCommand, BadCredentialsAreNamedAndNeverEchoed) {
  StartFake();
  auto r = Run(WriteConfig(server_->base_url()), "not-the-token-1234");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("✗ Cannot use Jira: Jira rejected the credentials of noxsync@acme.example (HTTP 401)"),
            std::string::npos)
      << r.err;
  EXPECT_EQ((r.out + r.err).find("not-the-token-1234"), std::string::npos);
}

TEST_F(TestConnectionCommand, MissingPermissionAndIssueTypeAreNamed) {
  fakes::FakeJiraOptions o;
  o.permissions.erase("TRANSITION_ISSUES");
  StartFake(o);
  auto r = Run(WriteConfig(server_->base_url()));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("may not transition issues in Jira project SEC (TRANSITION_ISSUES)"), std::string::npos)
      << r.err;
  o.issue_types = {"Task"};
  StartFake(o);
  r = Run(WriteConfig(server_->base_url()));
  EXPECT_NE(r.err.find("issue type \"Security\" is not in Jira project SEC"), std::string::npos) << r.err;
}

TEST_F(TestConnectionCommand, ConfigurationErrorsExitTwoWithTheirPath) {
  StartFake();
  std::string path = WriteConfig(server_->base_url(), R"(,"api_versoin":3)");
  auto r = Run(path);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("backends.jira.api_versoin: unknown key"), std::string::npos) << r.err;
  ::unsetenv("NOXSYNC_TEST_JIRA_TOKEN");
  auto unset = RunNoxsync("test-connection jira --config " + WriteConfig(server_->base_url()), dir_.path());
  EXPECT_EQ(unset.exit_code, 2);
  EXPECT_NE(unset.err.find("backends.jira.api_token: environment variable NOXSYNC_TEST_JIRA_TOKEN is not set"),
            std::string::npos)
      << unset.err;
  auto missing = RunNoxsync("test-connection jira --config " + dir_.Sub("nope.json"), dir_.path());
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("cannot read the configuration file"), std::string::npos);
}

TEST_F(TestConnectionCommand, TlsNeedsTheCaFileAndTheRightName) {
  ASSERT_TRUE(testing::MakeTestCertificates(dir_.path()));
  fakes::TlsFiles tls{dir_.Sub("server.pem"), dir_.Sub("server.key")};
  StartFake({}, &tls);
  std::string url = "https://localhost:" + std::to_string(server_->port());
  auto untrusted = Run(WriteConfig(url));
  EXPECT_EQ(untrusted.exit_code, 1);
  EXPECT_NE(untrusted.err.find("(TLS failure)"), std::string::npos) << untrusted.err;
  EXPECT_NE(untrusted.err.find("is not trusted"), std::string::npos) << untrusted.err;
  std::string ca = R"(,"http":{"ca_file":")" + dir_.Sub("ca.pem") + "\"}";
  auto trusted = Run(WriteConfig(url, ca));
  EXPECT_EQ(trusted.exit_code, 0) << trusted.err;
  auto wrong_name = Run(WriteConfig("https://127.0.0.1:" + std::to_string(server_->port()), ca));
  EXPECT_EQ(wrong_name.exit_code, 1);
  EXPECT_NE(wrong_name.err.find("is not valid for the name \"127.0.0.1\""), std::string::npos) << wrong_name.err;
}

TEST_F(TestConnectionCommand, UnknownHostAndTimeoutAreNamed) {
  StartFake();
  auto unknown = Run(WriteConfig("https://jira.noxsync-test.invalid"));
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("(name not resolved)"), std::string::npos) << unknown.err;
  fake_->InjectFault(fakes::FakeFault{"GET /rest/api/3/myself", 0, "", 2000, fakes::Fault::kNone, false, 5});
  auto slow = Run(WriteConfig(server_->base_url(), R"(,"http":{"request_timeout_ms":200,"max_attempts":1})"));
  EXPECT_EQ(slow.exit_code, 1);
  EXPECT_NE(slow.err.find("(timeout)"), std::string::npos) << slow.err;
}

class TestConnectionServiceNow : public ::testing::Test {
 protected:
  void StartFake(fakes::FakeServiceNowOptions o = {}) {
    server_.reset();
    fake_ = std::make_unique<fakes::FakeServiceNow>(clock_, o);
    server_ = std::make_unique<fakes::FakeHttpServer>();
    std::string error;
    ASSERT_TRUE(server_->Start(0, [this](const fakes::FakeRequest& r) { return fake_->Handle(r); }, &error)) << error;
  }
  testing::CommandResult Run(const std::string& auth_json, const std::string& password = "fake-servicenow-password") {
    std::string path = dir_.Sub("noxsync.json");
    std::ofstream(path) << R"({"backends":{"servicenow":{"instance_url":")" << server_->base_url() << "\","
                        << auth_json << "}}}";
    ::setenv("NOXSYNC_TEST_SN_PASSWORD", password.c_str(), 1);
    ::setenv("NOXSYNC_TEST_SN_SECRET", "fake-oauth-secret", 1);
    auto r = testing::RunNoxsync("test-connection servicenow --config " + path, dir_.path());
    ::unsetenv("NOXSYNC_TEST_SN_PASSWORD");
    ::unsetenv("NOXSYNC_TEST_SN_SECRET");
    return r;
  }
  static constexpr const char* kBasic = R"("username":"svc_noxsync","password":"${NOXSYNC_TEST_SN_PASSWORD}")";

  testing::TempDir dir_;
  SystemClock clock_;
  std::unique_ptr<fakes::FakeServiceNow> fake_;
  std::unique_ptr<fakes::FakeHttpServer> server_;
};

TEST_F(TestConnectionServiceNow, BasicAndOAuthPrintTheSuccessLine) {
  StartFake();
  auto basic = Run(kBasic);
  EXPECT_EQ(basic.exit_code, 0) << basic.err;
  EXPECT_EQ(basic.out, "✓ Successfully connected to ServiceNow (user svc_noxsync, table incident)\n");
  auto oauth = Run(R"("auth":"oauth_password","client_id":"fake-oauth-client","client_secret":"${NOXSYNC_TEST_SN_SECRET}",)"
                   R"("username":"svc_noxsync","password":"${NOXSYNC_TEST_SN_PASSWORD}")");
  EXPECT_EQ(oauth.exit_code, 0) << oauth.err;
  EXPECT_EQ(fake_->tokens_issued(), 1);
}

TEST_F(TestConnectionServiceNow, BadPasswordAndMissingRoleAreNamed) {
  StartFake();
  auto bad = Run(kBasic, "not-the-password-77");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("✗ Cannot use ServiceNow: ServiceNow rejected the credentials of svc_noxsync (HTTP 401)"),
            std::string::npos)
      << bad.err;
  EXPECT_EQ((bad.out + bad.err).find("not-the-password-77"), std::string::npos);
  fakes::FakeServiceNowOptions o;
  o.roles = {};
  StartFake(o);
  auto norole = Run(kBasic);
  EXPECT_EQ(norole.exit_code, 1);
  EXPECT_NE(norole.err.find("svc_noxsync lacks the role itil"), std::string::npos) << norole.err;
}

TEST_F(TestConnectionServiceNow, ConfigurationErrorsAreNamed) {
  StartFake();
  auto r = Run(R"("auth":"kerberos","table":"Incident")");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("backends.servicenow.auth: \"kerberos\": use basic, oauth_password or oauth_client_credentials"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("backends.servicenow.table: a table name is lower-case"), std::string::npos) << r.err;
}

TEST(TestConnectionNotifications, PostsATestToEveryChannelAndNamesTheOneThatFails) {
  testing::TempDir dir;
  fakes::FakeWebhookReceiver slack(fakes::FakeWebhookReceiver::Kind::kSlack);
  fakes::FakeWebhookReceiver teams(fakes::FakeWebhookReceiver::Kind::kTeams);
  fakes::FakeHttpServer slack_server, teams_server;
  std::string error;
  ASSERT_TRUE(slack_server.Start(0, [&](const fakes::FakeRequest& r) { return slack.Handle(r); }, &error));
  ASSERT_TRUE(teams_server.Start(0, [&](const fakes::FakeRequest& r) { return teams.Handle(r); }, &error));
  teams.InjectFault(fakes::FakeFault{"POST /", 404, "", 0, fakes::Fault::kNone, false, 5});
  std::string path = dir.Sub("noxsync.json");
  std::ofstream(path) << R"({"notifications":[)"
                      << R"({"type":"slack","name":"soc","webhook_url":"${NOXSYNC_TEST_SLACK}"},)"
                      << R"({"type":"teams","name":"managers","webhook_url":"${NOXSYNC_TEST_TEAMS}"}]})";
  ::setenv("NOXSYNC_TEST_SLACK", (slack_server.base_url() + "/services/T0/B0/slack-secret-1").c_str(), 1);
  ::setenv("NOXSYNC_TEST_TEAMS", (teams_server.base_url() + "/webhookb2/teams-secret-2").c_str(), 1);
  auto r = testing::RunNoxsync("test-connection notifications --config " + path, dir.path());
  ::unsetenv("NOXSYNC_TEST_SLACK");
  ::unsetenv("NOXSYNC_TEST_TEAMS");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "✓ slack:soc: test message delivered\n");
  EXPECT_NE(r.err.find("✗ teams:managers: Teams webhook managers answered HTTP 404"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("is plain http"), std::string::npos) << r.err;  // warned, loopback only
  EXPECT_EQ((r.out + r.err).find("secret-"), std::string::npos);
  ASSERT_EQ(slack.accepted().size(), 1u);
  EXPECT_NE(slack.accepted()[0].find("Test from noxsync"), std::string::npos);
}

}  // namespace
}  // namespace noxsync
