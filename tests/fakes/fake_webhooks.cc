#include "tests/fakes/fake_webhooks.h"

#include <set>

#include <boost/json.hpp>

namespace noxsync::fakes {

namespace json = boost::json;

namespace {

const json::value* Get(const json::value& v, const char* key) {
  return v.is_object() ? v.get_object().if_contains(key) : nullptr;
}

bool IsStr(const json::value* v, size_t max = SIZE_MAX) {
  return v && v->is_string() && !v->get_string().empty() && v->get_string().size() <= max;
}

std::string CheckText(const json::value* t, std::set<std::string> types, size_t max, const std::string& where) {
  if (!t || !t->is_object()) return where + ": text object missing";
  const json::value* type = Get(*t, "type");
  if (!type || !type->is_string() || !types.count(std::string(type->get_string()))) return where + ": bad text type";
  if (!IsStr(Get(*t, "text"), max)) return where + ": text empty or longer than " + std::to_string(max);
  for (const auto& kv : t->get_object()) {
    if (kv.key() != "type" && kv.key() != "text" && kv.key() != "emoji" && kv.key() != "verbatim") {
      return where + ": unknown key " + std::string(kv.key());
    }
  }
  return "";
}

}  // namespace

std::string CheckSlackPayload(const std::string& body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return "invalid_payload";
  const json::value* text = Get(v, "text");
  const json::value* blocks = Get(v, "blocks");
  if (!IsStr(text, 40000) && !blocks) return "no_text";
  if (!blocks) return "";
  if (!blocks->is_array() || blocks->get_array().empty() || blocks->get_array().size() > 50) {
    return "invalid_blocks: blocks must be 1..50";
  }
  for (const auto& b : blocks->get_array()) {
    const json::value* type = Get(b, "type");
    if (!type || !type->is_string()) return "invalid_blocks: block without type";
    std::string t(type->get_string());
    if (t == "header") {
      if (auto e = CheckText(Get(b, "text"), {"plain_text"}, 150, "header"); !e.empty()) return "invalid_blocks: " + e;
    } else if (t == "section") {
      const json::value* fields = Get(b, "fields");
      const json::value* stext = Get(b, "text");
      if (!fields && !stext) return "invalid_blocks: section needs text or fields";
      if (stext) {
        if (auto e = CheckText(stext, {"mrkdwn", "plain_text"}, 3000, "section"); !e.empty()) return "invalid_blocks: " + e;
      }
      if (fields) {
        if (!fields->is_array() || fields->get_array().size() > 10) return "invalid_blocks: at most 10 fields";
        for (const auto& f : fields->get_array()) {
          if (auto e = CheckText(&f, {"mrkdwn", "plain_text"}, 2000, "field"); !e.empty()) return "invalid_blocks: " + e;
        }
      }
    } else if (t == "actions") {
      const json::value* els = Get(b, "elements");
      if (!els || !els->is_array() || els->get_array().empty() || els->get_array().size() > 25) {
        return "invalid_blocks: actions need 1..25 elements";
      }
      for (const auto& e : els->get_array()) {
        const json::value* et = Get(e, "type");
        if (!et || !et->is_string() || et->get_string() != "button") return "invalid_blocks: only buttons here";
        if (auto err = CheckText(Get(e, "text"), {"plain_text"}, 75, "button"); !err.empty()) return "invalid_blocks: " + err;
        if (!IsStr(Get(e, "url"), 3000)) return "invalid_blocks: button url";
        if (const json::value* style = Get(e, "style")) {
          if (!style->is_string() || (style->get_string() != "primary" && style->get_string() != "danger")) {
            return "invalid_blocks: button style";
          }
        }
      }
    } else if (t != "divider" && t != "context") {
      return "invalid_blocks: unknown block type " + t;
    }
  }
  return "";
}

std::string CheckTeamsPayload(const std::string& body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return "Bad payload: not JSON";
  const json::value* type = Get(v, "type");
  if (!type || !type->is_string() || type->get_string() != "message") return "Bad payload: type must be message";
  const json::value* atts = Get(v, "attachments");
  if (!atts || !atts->is_array() || atts->get_array().empty()) return "Bad payload: attachments missing";
  for (const auto& a : atts->get_array()) {
    const json::value* ct = Get(a, "contentType");
    if (!ct || !ct->is_string() || ct->get_string() != "application/vnd.microsoft.card.adaptive") {
      return "Bad payload: contentType must be application/vnd.microsoft.card.adaptive";
    }
    const json::value* card = Get(a, "content");
    const json::value* ctype = card ? Get(*card, "type") : nullptr;
    if (!ctype || !ctype->is_string() || ctype->get_string() != "AdaptiveCard") return "Bad payload: content is not an AdaptiveCard";
    if (!IsStr(Get(*card, "version"))) return "Bad payload: AdaptiveCard without version";
    const json::value* cbody = Get(*card, "body");
    if (!cbody || !cbody->is_array()) return "Bad payload: AdaptiveCard without body";
    for (const auto& el : cbody->get_array()) {
      const json::value* et = Get(el, "type");
      if (!et || !et->is_string()) return "Bad payload: element without type";
      if (et->get_string() == "TextBlock") {
        if (!IsStr(Get(el, "text"))) return "Bad payload: TextBlock without text";
      } else if (et->get_string() == "FactSet") {
        const json::value* facts = Get(el, "facts");
        if (!facts || !facts->is_array()) return "Bad payload: FactSet without facts";
        for (const auto& f : facts->get_array()) {
          const json::value* ft = Get(f, "title");
          const json::value* fv = Get(f, "value");
          if (!ft || !ft->is_string() || !fv || !fv->is_string()) return "Bad payload: a fact needs title and value";
        }
      } else {
        return "Bad payload: unexpected element " + std::string(et->get_string());
      }
    }
    if (const json::value* actions = Get(*card, "actions")) {
      if (!actions->is_array()) return "Bad payload: actions must be an array";
      for (const auto& act : actions->get_array()) {
        const json::value* at = Get(act, "type");
        if (!at || !at->is_string() || at->get_string() != "Action.OpenUrl") return "Bad payload: only Action.OpenUrl";
        if (!IsStr(Get(act, "title")) || !IsStr(Get(act, "url"))) return "Bad payload: Action.OpenUrl needs title and url";
      }
    }
  }
  return "";
}

FakeResponse FakeWebhookReceiver::Handle(const FakeRequest& r) {
  std::lock_guard lock(mu_);
  int delay = 0;
  auto error_body = [this](int status) {
    if (kind_ == Kind::kSlack) return std::string(status == 429 ? "rate_limited" : "internal_error");
    return std::string("Webhook error");
  };
  if (auto faulty = faults_.Take(r.method + " " + r.path, error_body, &delay)) {
    faulty->content_type = "text/plain";
    return *faulty;
  }
  FakeResponse res;
  res.content_type = "text/plain";
  res.delay_ms = delay;
  if (r.method != "POST") {
    res.status = 405;
    res.body = "invalid_method";
    return res;
  }
  if (r.Header("content-type").rfind("application/json", 0) != 0) {
    res.status = 400;
    res.body = "invalid_payload";
    refused_.push_back("content type is not application/json");
    return res;
  }
  std::string why = kind_ == Kind::kSlack ? CheckSlackPayload(r.body) : CheckTeamsPayload(r.body);
  if (!why.empty()) {
    refused_.push_back(why);
    res.status = 400;
    res.body = why;
    return res;
  }
  accepted_.push_back(r.body);
  res.status = kind_ == Kind::kSlack ? 200 : 202;
  res.body = kind_ == Kind::kSlack ? "ok" : "";
  return res;
}

std::vector<std::string> FakeWebhookReceiver::accepted() const {
  std::lock_guard lock(mu_);
  return accepted_;
}

std::vector<std::string> FakeWebhookReceiver::refused() const {
  std::lock_guard lock(mu_);
  return refused_;
}

}  // namespace noxsync::fakes
