#include "adapters/notify/webhook_notifier.h"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "sync/config_reader.h"
#include "tests/fakes/fake_webhooks.h"
#include "tests/fakes/test_support.h"

namespace noxsync::notify {
namespace {

namespace json = boost::json;
using fakes::FakeWebhookReceiver;
using testing::LogCapture;
using testing::RecordingSleeper;

Notification Sample() {
  Notification n;
  n.kind = Notification::Kind::kTicketCreated;
  n.incident_id = "inc_00000042";
  n.title = "Critical incident on ChatGPT: EMAIL, IBAN";
  n.platform = "ChatGPT";
  n.risk_ppm = 950000;
  n.severity = "Critical";
  n.user = "alice@acme.fr";
  n.classifications = {"EMAIL (0.95)", "IBAN (0.88)"};
  n.ticket_key = "SEC-42";
  n.ticket_url = "https://acme.atlassian.net/browse/SEC-42";
  return n;
}

class WebhookTest : public ::testing::Test {
 protected:
  void Start(FakeWebhookReceiver::Kind kind) {
    receiver_ = std::make_unique<FakeWebhookReceiver>(kind);
    server_ = std::make_unique<fakes::FakeHttpServer>();
    std::string error;
    ASSERT_TRUE(server_->Start(0, [this](const fakes::FakeRequest& r) { return receiver_->Handle(r); }, &error));
  }
  std::unique_ptr<Notifier> Make(WebhookKind kind) {
    WebhookConfig c;
    c.kind = kind;
    c.name = "soc";
    c.url = Secret(server_->base_url() + "/services/T000/B000/secret-path-XYZ");
    c.http.name = "slack:soc";
    c.http.proxy = http::ProxyOptions{};
    c.http.jitter_seed = 5;
    auto n = MakeWebhookNotifier(c, clock_, sleeper_);
    EXPECT_TRUE(n.ok());
    return std::move(n).value();
  }

  ManualClock clock_{1'795'000'000'000'000};
  RecordingSleeper sleeper_{&clock_};
  std::unique_ptr<FakeWebhookReceiver> receiver_;
  std::unique_ptr<fakes::FakeHttpServer> server_;
};

TEST_F(WebhookTest, SlackGetsBlockKitWithTheFactsAndAButtonToTheTicket) {
  Start(FakeWebhookReceiver::Kind::kSlack);
  auto slack = Make(WebhookKind::kSlack);
  EXPECT_EQ(slack->channel(), "slack:soc");
  ASSERT_TRUE(slack->Send(Sample()).ok());
  ASSERT_EQ(receiver_->accepted().size(), 1u) << (receiver_->refused().empty() ? "" : receiver_->refused()[0]);
  json::value v = json::parse(receiver_->accepted()[0]);
  EXPECT_EQ(v.at("text"), "New incident: Critical incident on ChatGPT: EMAIL, IBAN (ChatGPT, risk 95% (Critical))");
  const json::array& blocks = v.at("blocks").as_array();
  EXPECT_EQ(blocks[0].at("type"), "header");
  const json::array& fields = blocks[1].at("fields").as_array();
  EXPECT_EQ(fields[0].at("text"), "*Platform:*\nChatGPT");
  EXPECT_EQ(fields[1].at("text"), "*Risk:*\n95% (Critical)");
  EXPECT_EQ(fields[2].at("text"), "*User:*\nalice@acme.fr");
  EXPECT_EQ(fields[3].at("text"), "*Classifications:*\nEMAIL (0.95), IBAN (0.88)");
  const json::value& button = blocks[2].at("elements").as_array()[0];
  EXPECT_EQ(button.at("url"), "https://acme.atlassian.net/browse/SEC-42");
  EXPECT_EQ(button.at("text").at("text"), "Open SEC-42");
  EXPECT_EQ(button.at("style"), "danger");
}

TEST_F(WebhookTest, TeamsGetsAnAdaptiveCardWithTheSameFactsAndLink) {
  Start(FakeWebhookReceiver::Kind::kTeams);
  auto teams = Make(WebhookKind::kTeams);
  Notification n = Sample();
  n.kind = Notification::Kind::kSlaBreached;
  n.detail = "The 1 h SLA passed at 10:32 UTC.";
  ASSERT_TRUE(teams->Send(n).ok());
  ASSERT_EQ(receiver_->accepted().size(), 1u) << (receiver_->refused().empty() ? "" : receiver_->refused()[0]);
  json::value v = json::parse(receiver_->accepted()[0]);
  const json::value& card = v.at("attachments").as_array()[0].at("content");
  EXPECT_EQ(card.at("type"), "AdaptiveCard");
  EXPECT_EQ(card.at("body").as_array()[0].at("text"), "SLA breached: Critical incident on ChatGPT: EMAIL, IBAN");
  const json::array& facts = card.at("body").as_array()[1].at("facts").as_array();
  EXPECT_EQ(facts[0].at("title"), "Platform");
  EXPECT_EQ(facts[0].at("value"), "ChatGPT");
  EXPECT_EQ(card.at("body").as_array()[2].at("text"), "The 1 h SLA passed at 10:32 UTC.");
  EXPECT_EQ(card.at("actions").as_array()[0].at("url"), "https://acme.atlassian.net/browse/SEC-42");
}

TEST_F(WebhookTest, SlackTextIsEscapedAndCutToItsLimits) {
  Start(FakeWebhookReceiver::Kind::kSlack);
  Notification n = Sample();
  n.user = "<script>&x";
  n.title = std::string(400, 'x');
  ASSERT_TRUE(Make(WebhookKind::kSlack)->Send(n).ok()) << receiver_->refused().size();
  json::value v = json::parse(receiver_->accepted()[0]);
  EXPECT_EQ(v.at("blocks").as_array()[1].at("fields").as_array()[2].at("text"), "*User:*\n&lt;script&gt;&amp;x");
  EXPECT_EQ(v.at("blocks").as_array()[0].at("text").at("text").as_string().size(), 150u);
}

TEST_F(WebhookTest, TeamsShowsAMarkdownLinkFromAnEventAsTextWithItsAddress) {
  Start(FakeWebhookReceiver::Kind::kTeams);
  Notification n = Sample();
  n.user = "[Reset your password](https://evil.example/x)";
  n.title = "[click](https://evil.example/y) now";
  n.detail = "see [here](https://evil.example/z)";
  ASSERT_TRUE(Make(WebhookKind::kTeams)->Send(n).ok()) << receiver_->refused().size();
  std::string sent = receiver_->accepted()[0];
  EXPECT_EQ(sent.find("]("), std::string::npos) << sent;
  json::value v = json::parse(sent);
  const json::value& card = v.at("attachments").as_array()[0].at("content");
  EXPECT_EQ(card.at("body").as_array()[0].at("text"), "New incident: [click] (https://evil.example/y) now");
  EXPECT_EQ(card.at("body").as_array()[1].at("facts").as_array()[2].at("value"),
            "[Reset your password] (https://evil.example/x)");
  EXPECT_EQ(card.at("body").as_array()[2].at("text"), "see [here] (https://evil.example/z)");
}

TEST_F(WebhookTest, FakeReceiverRefusesWhatSlackRefuses) {
  EXPECT_EQ(fakes::CheckSlackPayload(R"({"blocks":[{"type":"header","text":{"type":"mrkdwn","text":"x"}}]})"),
            "invalid_blocks: header: bad text type");
  EXPECT_NE(fakes::CheckSlackPayload(R"({"blocks":[{"type":"carousel"}]})"), "");
  EXPECT_NE(fakes::CheckTeamsPayload(R"({"type":"message","attachments":[{"contentType":"text/plain"}]})"), "");
  EXPECT_EQ(fakes::CheckSlackPayload(json::serialize(SlackMessage(Sample()))), "");
  EXPECT_EQ(fakes::CheckTeamsPayload(json::serialize(TeamsMessage(Sample()))), "");
}

TEST_F(WebhookTest, RateLimitIsWaitedOutAndGoneWebhookIsNamedWithoutItsUrl) {
  Start(FakeWebhookReceiver::Kind::kSlack);
  auto slack = Make(WebhookKind::kSlack);
  receiver_->InjectFault(fakes::FakeFault{"POST /services", 429, "2", 0, fakes::Fault::kNone, false, 1});
  ASSERT_TRUE(slack->Send(Sample()).ok());
  EXPECT_EQ(sleeper_.sleeps(), (std::vector<int64_t>{2'000'000}));
  LogCapture log;
  receiver_->InjectFault(fakes::FakeFault{"POST /services", 404, "", 0, fakes::Fault::kNone, false, 1});
  Status gone = slack->Send(Sample());
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(gone.message().find("Slack webhook soc answered HTTP 404"), std::string::npos) << gone.message();
  EXPECT_NE(gone.message().find("create a new webhook"), std::string::npos);
  EXPECT_EQ((gone.message() + log.text()).find("secret-path-XYZ"), std::string::npos);
}

TEST(WebhookConfig, ReadsAndChecksAChannelWithoutEchoingItsUrl) {
  auto v = json::parse(R"({"type":"slack","name":"soc","webhook_url":"http://hooks.example/services/SECRET-1",
                           "events":["ticket_created","paged"],"max_per_minute":5})");
  ConfigProblems problems;
  ConfigSection s(v.as_object(), "notifications[0]", &problems);
  WebhookConfig c = ReadWebhookConfig(&s);
  EXPECT_EQ(c.max_per_minute, 5);
  ASSERT_EQ(problems.errors.size(), 2u) << problems.Text();
  EXPECT_EQ(problems.errors[0], "notifications[0].webhook_url: must be an https:// URL");
  EXPECT_EQ(problems.errors[1], "notifications[0].events: \"paged\": use ticket_created, sla_breached, escalated");
  EXPECT_EQ((problems.Text()).find("SECRET-1"), std::string::npos);
  ChannelOptions o = ChannelOptionsFor(c);
  EXPECT_TRUE(o.kinds.count(Notification::Kind::kTicketCreated));
  EXPECT_FALSE(o.kinds.count(Notification::Kind::kSlaBreached));
}

}  // namespace
}  // namespace noxsync::notify
