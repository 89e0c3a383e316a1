// FakeWebhookReceiver: a Slack or Microsoft Teams incoming webhook that
// checks each payload's shape as the service does (Block Kit block types and
// size limits; an Adaptive Card in a message attachment) and refuses a bad
// one the way the service refuses it (Slack: 400 "invalid_blocks"; Teams:
// 400). It records what it accepted. Faults can be queued. Thread-safe.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "tests/fakes/fake_kit.h"
#include "tests/fakes/http_server.h"

namespace noxsync::fakes {

class FakeWebhookReceiver : public FakeBackendBase {
 public:
  enum class Kind { kSlack, kTeams };
  explicit FakeWebhookReceiver(Kind kind) : kind_(kind) {}

  FakeResponse Handle(const FakeRequest& request);

  std::vector<std::string> accepted() const;  // bodies, in arrival order
  std::vector<std::string> refused() const;   // why each refused payload was refused

 private:
  Kind kind_;
  std::vector<std::string> accepted_;
  std::vector<std::string> refused_;
};

// The checks themselves: "" when the body is well-formed, else why not.
std::string CheckSlackPayload(const std::string& body);
std::string CheckTeamsPayload(const std::string& body);

}  // namespace noxsync::fakes
