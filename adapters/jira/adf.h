// How a NewTicket or Comment reads on Jira: Atlassian Document Format for
// REST v3 (description, comment body), wiki markup for v2 (Data Center).
// Pure functions; no I/O.
#pragma once

#include <string>

#include <boost/json/value.hpp>

#include "sync/backend.h"

namespace noxsync::jira {

// {"type":"doc","version":1,"content":[...]}: a heading, the description's
// paragraphs, the facts as a bullet list, the classifications as a bullet
// list, and the event id as inline code.
boost::json::value DescriptionAdf(const NewTicket& t);
std::string DescriptionWiki(const NewTicket& t);

boost::json::value CommentAdf(const Comment& c);
std::string CommentWiki(const Comment& c);

// Jira labels cannot hold spaces: "Microsoft Copilot" -> "microsoft-copilot";
// nor pass 255 characters, where Jira would refuse the whole issue.
std::string LabelFor(const std::string& text);

}  // namespace noxsync::jira
