#include "sync/noxys_event.h"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <tuple>
#include <vector>

#include "store/record.h"
#include "store/utf8.h"
#include "sync/json_text.h"
#include "sync/timestamp.h"

namespace noxsync {
namespace json = boost::json;

const char* PolicyActionName(PolicyAction a) {
  switch (a) {
    case PolicyAction::kBlock: return "BLOCK";
    case PolicyAction::kCoach: return "COACH";
    case PolicyAction::kAllow: return "ALLOW";
  }
  return "?";
}

bool ParsePolicyAction(std::string_view text, PolicyAction* out) {
  for (PolicyAction a : {PolicyAction::kBlock, PolicyAction::kCoach, PolicyAction::kAllow}) {
    if (text == PolicyActionName(a)) {
      *out = a;
      return true;
    }
  }
  return false;
}

int64_t RiskPpm(double risk_score) { return std::llround(risk_score * 1e6); }

namespace {

const char* KindName(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null: return "null";
    case json::kind::bool_: return "a boolean";
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_: return "a number";
    case json::kind::string: return "a string";
    case json::kind::array: return "an array";
    case json::kind::object: return "an object";
  }
  return "?";
}

// Field readers: each returns false with *error naming the path.
struct Reader {
  std::string* error;

  bool Fail(const std::string& path, const std::string& what) {
    *error = "field " + path + ": " + what;
    return false;
  }

  const json::value* Find(const json::object& o, const char* key, const std::string& path) {
    auto it = o.find(key);
    if (it == o.end()) {
      Fail(path, "missing");
      return nullptr;
    }
    return &it->value();
  }

  bool String(const json::object& o, const char* key, const std::string& path, std::string* out,
              bool non_empty) {
    const json::value* v = Find(o, key, path);
    if (v == nullptr) return false;
    if (!v->is_string()) return Fail(path, std::string("expected a string, got ") + KindName(*v));
    const json::string& s = v->get_string();
    if (non_empty && s.empty()) return Fail(path, "must not be empty");
    out->assign(s.data(), s.size());
    return true;
  }

  bool Number(const json::object& o, const char* key, const std::string& path, double* out) {
    const json::value* v = Find(o, key, path);
    if (v == nullptr) return false;
    if (!v->is_number()) return Fail(path, std::string("expected a number, got ") + KindName(*v));
    *out = v->to_number<double>();
    return true;
  }

  bool Unit(const json::object& o, const char* key, const std::string& path, double* out) {
    if (!Number(o, key, path, out)) return false;
    if (!(*out >= 0.0 && *out <= 1.0)) {
      char buf[64];
      std::snprintf(buf, sizeof(buf), "%g", *out);
      return Fail(path, std::string("expected a number in [0, 1], got ") + buf);
    }
    return true;
  }

  const json::object* Object(const json::object& o, const char* key, const std::string& path) {
    const json::value* v = Find(o, key, path);
    if (v == nullptr) return nullptr;
    if (!v->is_object()) {
      Fail(path, std::string("expected an object, got ") + KindName(*v));
      return nullptr;
    }
    return &v->get_object();
  }
};

bool PrintableId(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x21 || c == 0x7f) return false;
  }
  return true;
}

}  // namespace

bool FindDuplicateKey(std::string_view text, std::string* key) {
  // One pass over the text: the keys of every open object, in one list that
  // each closing brace cuts back to where its object began.
  struct Level {
    bool object;
    bool expect_key;
    size_t first;  // where its keys start in `keys`
  };
  std::vector<Level> stack;
  std::vector<std::string_view> keys;
  std::deque<std::string> unescaped;  // rare: keys written with escapes (a deque: views stay valid)
  stack.reserve(8);
  keys.reserve(32);
  // Of every byte only these matter; a table spares six compares each.
  static constexpr auto kMatters = [] {
    std::array<bool, 256> t{};
    for (unsigned char c : std::string_view("\"{}[],")) t[c] = true;
    return t;
  }();
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
  for (size_t i = 0; i < text.size(); ++i) {
    if (!kMatters[bytes[i]]) continue;
    const char c = text[i];
    if (c == '"') {
      // The closing quote: the next one not escaped by an odd run of
      // backslashes (memchr: most of an event's bytes are in strings).
      const size_t open = i;
      for (;;) {
        const void* q = std::memchr(text.data() + i + 1, '"', text.size() - i - 1);
        if (q == nullptr) return false;
        i = static_cast<size_t>(static_cast<const char*>(q) - text.data());
        size_t run = 0;
        while (text[i - 1 - run] == '\\') ++run;
        if (run % 2 == 0) break;
      }
      const bool escaped = std::memchr(text.data() + open + 1, '\\', i - open - 1) != nullptr;
      if (stack.empty() || !stack.back().object || !stack.back().expect_key) continue;  // a value
      stack.back().expect_key = false;
      std::string_view k = text.substr(open + 1, i - open - 1);
      if (escaped) {
        json::error_code ec;
        json::value v = json::parse(json::string_view(text.data() + open, i - open + 1), ec);
        if (ec || !v.is_string()) return false;
        k = unescaped.emplace_back(v.get_string().data(), v.get_string().size());
      }
      if (std::find(keys.begin() + static_cast<std::ptrdiff_t>(stack.back().first), keys.end(), k) != keys.end()) {
        key->assign(Utf8Prefix(k, 64));
        return true;
      }
      keys.push_back(k);
    } else if (c == '{' || c == '[') {
      stack.push_back({c == '{', c == '{', keys.size()});
    } else if (c == '}' || c == ']') {
      if (stack.empty()) return false;
      keys.resize(stack.back().first);
      stack.pop_back();
    } else if (c == ',' && !stack.empty() && stack.back().object) {
      stack.back().expect_key = true;
    }
  }
  return false;
}

bool ParseNoxysEvent(std::string_view text, NoxysEvent* ev, std::string* error) {
  // Events are small: parse into a stack buffer, no heap allocation per node.
  unsigned char buffer[8192];
  json::monotonic_resource arena(buffer, sizeof(buffer));
  json::error_code ec;
  json::value root = json::parse(json::string_view(text.data(), text.size()), ec, &arena);
  if (ec) {
    if (size_t bad = InvalidUtf8At(text); bad != std::string_view::npos) {
      // JSON is UTF-8; the parser's "syntax error" would not say which byte.
      char byte[8];
      std::snprintf(byte, sizeof byte, "0x%02X", static_cast<unsigned char>(text[bad]));
      *error = "not UTF-8: byte " + std::to_string(bad + 1) + " of the line is " + byte +
               "; send events in UTF-8 (a file saved as Latin-1 or Windows-1252: iconv -f cp1252 -t utf-8)";
      // Its id, if the rest reads, so the sender's answer and `history` name it.
      json::value fixed = json::parse(ValidUtf8(text), ec);
      const json::value* id = ec || !fixed.is_object() ? nullptr : fixed.get_object().if_contains("event_id");
      if (id != nullptr && id->is_string() && id->get_string().size() <= kMaxEventIdLength &&
          PrintableId(id->get_string())) {
        ev->event_id = std::string(id->get_string());
      }
      return false;
    }
    *error = "not valid JSON: " + ec.message();
    // Where a file's first line may carry one (the readers drop it there),
    // a byte order mark is also what joining such files leaves mid-stream.
    if (text.starts_with(kUtf8ByteOrderMark)) {
      *error += " (the line starts with a UTF-8 byte order mark, U+FEFF: save the source as UTF-8 without one)";
    }
    return false;
  }
  if (!root.is_object()) {
    *error = std::string("expected a JSON object, got ") + KindName(root);
    return false;
  }
  const json::object& o = root.get_object();
  Reader r{error};

  if (!r.String(o, "event_id", "event_id", &ev->event_id, true)) return false;
  if (ev->event_id.size() > kMaxEventIdLength || !PrintableId(ev->event_id)) {
    return r.Fail("event_id", "expected at most 256 printable characters without spaces");
  }
  if (!r.String(o, "timestamp", "timestamp", &ev->timestamp, true)) return false;
  if (!ParseTimestamp(ev->timestamp, &ev->time_us)) {
    return r.Fail("timestamp", "expected an RFC 3339 time such as 2026-03-20T14:32:00Z, got \"" +
                                   std::string(Utf8Prefix(ev->timestamp, 64)) + "\"");
  }
  if (!r.String(o, "platform_id", "platform_id", &ev->platform_id, true)) return false;
  if (!r.String(o, "platform_name", "platform_name", &ev->platform_name, false)) return false;
  if (!r.String(o, "user_email", "user_email", &ev->user_email, true)) return false;
  if (ev->user_email.find('@') == std::string::npos) {
    return r.Fail("user_email", "expected an e-mail address, got \"" + std::string(Utf8Prefix(ev->user_email, 64)) + "\"");
  }
  if (!r.Unit(o, "risk_score", "risk_score", &ev->risk_score)) return false;

  const json::value* cls = r.Find(o, "classifications", "classifications");
  if (cls == nullptr) return false;
  if (!cls->is_array()) {
    return r.Fail("classifications", std::string("expected an array, got ") + KindName(*cls));
  }
  ev->classifications.clear();
  const json::array& arr = cls->get_array();
  ev->classifications.reserve(arr.size());
  for (size_t i = 0; i < arr.size(); ++i) {
    std::string path = "classifications[" + std::to_string(i) + "]";
    if (!arr[i].is_object()) {
      return r.Fail(path, std::string("expected an object, got ") + KindName(arr[i]));
    }
    const json::object& c = arr[i].get_object();
    Classification out;
    if (!r.String(c, "type", path + ".type", &out.type, true)) return false;
    if (!r.String(c, "value", path + ".value", &out.value, false)) return false;
    if (!r.Unit(c, "confidence", path + ".confidence", &out.confidence)) return false;
    ev->classifications.push_back(std::move(out));
  }

  const json::object* pd = r.Object(o, "policy_decisions", "policy_decisions");
  if (pd == nullptr) return false;
  std::string action;
  if (!r.String(*pd, "action", "policy_decisions.action", &action, false)) return false;
  if (!ParsePolicyAction(action, &ev->action)) {
    return r.Fail("policy_decisions.action",
                  "expected one of BLOCK, COACH, ALLOW, got \"" + std::string(Utf8Prefix(action, 32)) + "\"");
  }
  if (!r.String(*pd, "policy_id", "policy_decisions.policy_id", &ev->policy_id, true)) return false;
  if (!r.String(*pd, "policy_name", "policy_decisions.policy_name", &ev->policy_name, false)) return false;
  return true;
}

std::string EventDigest(const NoxysEvent& ev) {
  std::string form;
  form.reserve(320);
  JsonText j(&form);
  j.Str("event_id", ev.event_id)
      .Int("time_us", ev.time_us)
      .Str("platform_id", ev.platform_id)
      .Str("platform_name", ev.platform_name)
      .Str("user_email", ev.user_email)
      .Int("risk_ppm", RiskPpm(ev.risk_score));
  // As a set: a sender that lists the same classifications in another
  // order sends the same event.
  std::vector<std::tuple<std::string_view, std::string_view, int64_t>> cs;
  cs.reserve(ev.classifications.size());
  for (const Classification& c : ev.classifications) cs.emplace_back(c.type, c.value, RiskPpm(c.confidence));
  std::sort(cs.begin(), cs.end());
  for (const auto& [type, value, confidence_ppm] : cs) {
    j.Str("type", type).Str("value", value).Int("confidence_ppm", confidence_ppm);
  }
  j.Str("action", PolicyActionName(ev.action)).Str("policy_id", ev.policy_id).Str("policy_name", ev.policy_name).End();
  Hash h = Sha256(form);
  return HashHex(h).substr(0, 16);
}

}  // namespace noxsync
