#include "adapters/jira/adf.h"

#include <cctype>

#include <boost/json.hpp>

namespace noxsync::jira {

namespace json = boost::json;

namespace {

json::object Text(const std::string& s) { return {{"type", "text"}, {"text", s}}; }

json::object Paragraph(json::array content) { return {{"type", "paragraph"}, {"content", std::move(content)}}; }

json::object Heading(int level, const std::string& s) {
  return {{"type", "heading"}, {"attrs", {{"level", level}}}, {"content", json::array{Text(s)}}};
}

json::object Bullets(const std::vector<json::array>& items) {
  json::array list;
  for (const auto& item : items) {
    list.push_back(json::object{{"type", "listItem"}, {"content", json::array{Paragraph(item)}}});
  }
  return {{"type", "bulletList"}, {"content", std::move(list)}};
}

// Splits on blank lines; ADF text nodes must not be empty.
std::vector<std::string> Paragraphs(const std::string& text) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < text.size()) {
    size_t end = text.find("\n\n", i);
    std::string p = text.substr(i, end == std::string::npos ? std::string::npos : end - i);
    while (!p.empty() && (p.back() == '\n' || p.back() == ' ')) p.pop_back();
    size_t first = p.find_first_not_of("\n ");
    if (first != std::string::npos) out.push_back(p.substr(first));
    if (end == std::string::npos) break;
    i = end + 2;
  }
  return out;
}

json::array ParagraphNodes(const std::string& text, json::array content) {
  for (const auto& p : Paragraphs(text)) content.push_back(Paragraph({Text(p)}));
  return content;
}

// Wiki markup treats these as formatting; escape them in free text.
std::string WikiEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (std::string_view("*_{}[]|!#^+-~?").find(c) != std::string_view::npos) out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

json::value Doc(json::array content) {
  return json::object{{"type", "doc"}, {"version", 1}, {"content", std::move(content)}};
}

}  // namespace

json::value DescriptionAdf(const NewTicket& t) {
  json::array content;
  content.push_back(Heading(2, "Noxys incident " + t.incident_id));
  content = ParagraphNodes(t.description, std::move(content));
  if (!t.facts.empty()) {
    std::vector<json::array> items;
    for (const auto& [name, value] : t.facts) {
      json::object label = Text(name + ": ");
      label["marks"] = json::array{json::object{{"type", "strong"}}};
      json::array item{label};
      if (!value.empty()) item.push_back(Text(value));
      items.push_back(std::move(item));
    }
    content.push_back(Bullets(items));
  }
  if (!t.classifications.empty()) {
    content.push_back(Heading(3, "Classifications"));
    std::vector<json::array> items;
    for (const auto& c : t.classifications) items.push_back(json::array{Text(c)});
    content.push_back(Bullets(items));
  }
  if (!t.event_id.empty()) {
    json::object code = Text(t.event_id);
    code["marks"] = json::array{json::object{{"type", "code"}}};
    content.push_back(Paragraph({Text("Noxys event: "), code}));
  }
  return Doc(std::move(content));
}

std::string DescriptionWiki(const NewTicket& t) {
  std::string out = "h2. Noxys incident " + t.incident_id + "\n\n";
  for (const auto& p : Paragraphs(t.description)) out += WikiEscape(p) + "\n\n";
  for (const auto& [name, value] : t.facts) out += "* *" + WikiEscape(name) + ":* " + WikiEscape(value) + "\n";
  if (!t.classifications.empty()) {
    out += "\nh3. Classifications\n\n";
    for (const auto& c : t.classifications) out += "* " + WikiEscape(c) + "\n";
  }
  if (!t.event_id.empty()) out += "\nNoxys event: {{" + t.event_id + "}}\n";
  return out;
}

json::value CommentAdf(const Comment& c) {
  json::array content = ParagraphNodes(c.text, {});
  if (content.empty()) content.push_back(Paragraph({Text("(empty)")}));
  return Doc(std::move(content));
}

std::string CommentWiki(const Comment& c) {
  std::string out;
  for (const auto& p : Paragraphs(c.text)) out += (out.empty() ? "" : "\n\n") + WikiEscape(p);
  return out;
}

std::string LabelFor(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '_' || c == '.') {
      out.push_back(static_cast<char>(std::tolower(c)));
    } else if (!out.empty() && out.back() != '-') {
      out.push_back('-');
    }
  }
  if (out.size() > 255) out.resize(255);  // ASCII only: no character is cut
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out;
}

}  // namespace noxsync::jira
