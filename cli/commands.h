// The sub-commands of `noxsync`. Each takes the arguments after its name and
// returns the process exit code: 0 ok, 1 failure, 2 usage or config error.
#pragma once

#include <string>
#include <string_view>
#include <vector>

struct evp_mac_ctx_st;  // OpenSSL's EVP_MAC_CTX, kept out of this header

namespace noxsync::cli {

using Argv = std::vector<std::string>;

int RunIngest(const Argv& argv);
int RunHistory(const Argv& argv);
int RunIncidents(const Argv& argv);
int RunVerify(const Argv& argv);
int RunReplay(const Argv& argv);
int RunTestConnection(const Argv& argv);
int RunSync(const Argv& argv);
int RunServe(const Argv& argv);
int RunBackup(const Argv& argv);
int RunReport(const Argv& argv);
int RunIncident(const Argv& argv);
int RunConfig(const Argv& argv);
int RunSla(const Argv& argv);
int RunDemo(const Argv& argv);

class Args;
// replay --since (in sync_command.cc): the ticket half of `replay`.
int RunReplaySince(const Args& args);

// "sha256=" is put before it in X-Noxsync-Signature (docs/service.md).
std::string WebhookSignature(const std::string& secret, std::string_view timestamp, std::string_view body);

// The same, keyed once for many requests; Sign is safe from any thread.
class WebhookSigner {
 public:
  explicit WebhookSigner(std::string_view secret);
  ~WebhookSigner();
  WebhookSigner(const WebhookSigner&) = delete;
  WebhookSigner& operator=(const WebhookSigner&) = delete;
  std::string Sign(std::string_view timestamp, std::string_view body) const;

 private:
  evp_mac_ctx_st* keyed_ = nullptr;  // OpenSSL's EVP_MAC_CTX, holding the key
};

}  // namespace noxsync::cli
