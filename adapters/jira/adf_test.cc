#include "adapters/jira/adf.h"

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace noxsync::jira {
namespace {

TEST(Adf, DescriptionHasHeadingParagraphsFactsClassificationsAndCodeEventId) {
  NewTicket t;
  t.incident_id = "inc_00000042";
  t.description = "First paragraph.\n\n\nSecond paragraph.";
  t.facts = {{"Risk", "92%"}, {"Empty", ""}};
  t.classifications = {"EMAIL (0.95)"};
  t.event_id = "evt_1";
  std::string doc = boost::json::serialize(DescriptionAdf(t));
  EXPECT_EQ(doc,
            R"j({"type":"doc","version":1,"content":[)j"
            R"j({"type":"heading","attrs":{"level":2},"content":[{"type":"text","text":"Noxys incident inc_00000042"}]},)j"
            R"j({"type":"paragraph","content":[{"type":"text","text":"First paragraph."}]},)j"
            R"j({"type":"paragraph","content":[{"type":"text","text":"Second paragraph."}]},)j"
            R"j({"type":"bulletList","content":[)j"
            R"j({"type":"listItem","content":[{"type":"paragraph","content":[{"type":"text","text":"Risk: ","marks":[{"type":"strong"}]},{"type":"text","text":"92%"}]}]},)j"
            R"j({"type":"listItem","content":[{"type":"paragraph","content":[{"type":"text","text":"Empty: ","marks":[{"type":"strong"}]}]}]}]},)j"
            R"j({"type":"heading","attrs":{"level":3},"content":[{"type":"text","text":"Classifications"}]},)j"
            R"j({"type":"bulletList","content":[{"type":"listItem","content":[{"type":"paragraph","content":[{"type":"text","text":"EMAIL (0.95)"}]}]}]},)j"
            R"j({"type":"paragraph","content":[{"type":"text","text":"Noxys event: "},{"type":"text","text":"evt_1","marks":[{"type":"code"}]}]}]})j");
}

TEST(Adf, WikiTextEscapesMarkup) {
  NewTicket t;
  t.incident_id = "inc_1";
  t.description = "Pasted *secret* [link]";
  std::string wiki = DescriptionWiki(t);
  EXPECT_NE(wiki.find("Pasted \\*secret\\* \\[link\\]"), std::string::npos) << wiki;
}

TEST(Adf, EmptyCommentStillMakesAValidDocument) {
  EXPECT_EQ(boost::json::serialize(CommentAdf(Comment{""})),
            R"j({"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":"(empty)"}]}]})j");
}

TEST(Adf, LabelsHaveNoSpaces) {
  EXPECT_EQ(LabelFor("Microsoft Copilot"), "microsoft-copilot");
  EXPECT_EQ(LabelFor("  ChatGPT!! "), "chatgpt");
  EXPECT_EQ(LabelFor("Gemini"), "gemini");
  // A platform name past Jira's 255 characters would make it refuse the issue.
  EXPECT_EQ(LabelFor(std::string(300, 'a')), std::string(255, 'a'));
  EXPECT_EQ(LabelFor(std::string(254, 'a') + " b"), std::string(254, 'a'));
}

}  // namespace
}  // namespace noxsync::jira
