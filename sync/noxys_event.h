// NoxysEvent: one policy violation as Noxys reports it, parsed and validated.
//
// ParseNoxysEvent accepts one JSON object (one line of a .jsonl file or one
// webhook item) and either fills the event or says which field is wrong, in
// the words an operator needs: "field policy_decisions.action: expected one
// of BLOCK, COACH, ALLOW". Fields Noxys may add later are kept in the raw text
// and otherwise ignored. Pure functions, no shared state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace noxsync {

enum class PolicyAction { kBlock, kCoach, kAllow };
const char* PolicyActionName(PolicyAction a);
bool ParsePolicyAction(std::string_view text, PolicyAction* out);  // exactly BLOCK, COACH or ALLOW

struct Classification {
  std::string type;
  std::string value;
  double confidence = 0;
};

struct NoxysEvent {
  std::string event_id;
  int64_t time_us = 0;     // `timestamp`, as microseconds UTC
  std::string timestamp;   // as sent
  std::string platform_id;
  std::string platform_name;
  std::string user_email;
  double risk_score = 0;
  std::vector<Classification> classifications;
  PolicyAction action = PolicyAction::kBlock;
  std::string policy_id;
  std::string policy_name;
};

// The event's risk in millionths, exact across JSON round trips (derived rows
// must rebuild byte for byte, and a double need not survive text twice).
int64_t RiskPpm(double risk_score);

// What every reader of Noxys events (a file for `ingest`, a webhook's body)
// skips: a UTF-8 byte order mark opening the input, which JSON readers may
// ignore there (RFC 8259, 8.1), and lines of nothing but spaces and tabs.
inline constexpr std::string_view kUtf8ByteOrderMark = "\xEF\xBB\xBF";
inline bool IsBlankLine(std::string_view line) { return line.find_first_not_of(" \t") == std::string_view::npos; }

// The longest event_id an event may carry, in bytes.
inline constexpr size_t kMaxEventIdLength = 256;

// False with *error set ("field risk_score: expected a number in [0, 1], got
// 1.5") when the text is not a valid event.
bool ParseNoxysEvent(std::string_view text, NoxysEvent* event, std::string* error);

// True, with the key (unescaped, at most 64 bytes) in *key, when some object
// of `json_text` holds the same key twice. RFC 8259 leaves such text to each
// reader: Boost.JSON keeps the last value, other readers the first, so the
// log's copy of an event would read one way to an auditor's tool and
// another to noxsync. For text that parses as JSON; false for anything else.
bool FindDuplicateKey(std::string_view json_text, std::string* key);

// 16 hex digits of SHA-256 over the fields noxsync reads from the event, in a
// fixed form: the same for a resend of the same event however its JSON is
// spaced or ordered, its classifications listed in any order (and whatever
// fields noxsync ignores), different when any of those fields differ. Kept in `by_event` so that an `event_id` sent again
// with other content is told apart from a plain resend.
std::string EventDigest(const NoxysEvent& event);

}  // namespace noxsync
