// EventGenerator: realistic Noxys events of the sample's shape, reproducible
// from a seed, for the crash tests and the benchmarks. Header-only.
#pragma once

#include <cstdio>
#include <ctime>
#include <random>
#include <set>
#include <string>

namespace noxsync::testing {

class EventGenerator {
 public:
  explicit EventGenerator(uint64_t seed, int users = 500) : rng_(seed), users_(users) {}

  // One event as a JSON line (no newline). Ids are unique per generator.
  std::string Next(std::string* event_id = nullptr) {
    static const char* kPlatforms[][2] = {{"chatgpt", "ChatGPT"}, {"claude", "Claude"},
                                          {"gemini", "Gemini"},   {"mistral", "Le Chat"},
                                          {"copilot", "Microsoft Copilot"}, {"perplexity", "Perplexity"}};
    static const char* kTypes[][2] = {{"EMAIL", "alice@acme.fr"},         {"CREDIT_CARD", "4111 **** **** 1111"},
                                      {"IBAN", "FR76 **** **** 0189"},    {"SOURCE_CODE", "def main(): ..."},
                                      {"FR_NIR", "1 85 ** ** *** *** 42"}, {"PHONE", "+33 6 ** ** ** 12"},
                                      {"API_KEY", "sk-****************"}};
    static const char* kActions[][3] = {{"BLOCK", "pol_block_pii", "Block PII on AI platforms"},
                                        {"COACH", "pol_coach_sensitive", "Coach on sensitive data"},
                                        {"ALLOW", "pol_allow_audit", "Allow with audit"}};
    ++n_;
    char id[32];
    std::snprintf(id, sizeof(id), "evt_%012llx", static_cast<unsigned long long>(n_ * 2654435761ull));
    if (event_id) *event_id = id;
    const auto& p = kPlatforms[rng_() % 6];
    const auto& a = kActions[rng_() % 10 < 5 ? 0 : (rng_() % 5 < 4 ? 1 : 2)];
    int ntypes = 1 + (rng_() % 4 == 0);
    std::string cls;
    for (int i = 0; i < ntypes; ++i) {
      const auto& t = kTypes[rng_() % 7];
      char c[160];
      std::snprintf(c, sizeof(c), R"(%s{"type":"%s","value":"%s","confidence":0.%02u})", i ? "," : "", t[0], t[1],
                    static_cast<unsigned>(50 + rng_() % 50));
      cls += c;
    }
    // Time moves forward ~2 s per event with jitter, as a live feed does.
    long long secs = 1773964800LL + static_cast<long long>(n_) * 2 + rng_() % 30;
    time_t t = static_cast<time_t>(secs);
    struct tm tm{};
    gmtime_r(&t, &tm);
    char ts[32];
    std::strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
    char buf[1024];
    std::snprintf(buf, sizeof(buf),
                  R"({"event_id":"%s","timestamp":"%s","platform_id":"%s","platform_name":"%s",)"
                  R"("user_email":"user%d@acme.fr","risk_score":0.%02u,"classifications":[%s],)"
                  R"("policy_decisions":{"action":"%s","policy_id":"%s","policy_name":"%s"}})",
                  id, ts, p[0], p[1], static_cast<int>(rng_() % users_), static_cast<unsigned>(rng_() % 100),
                  cls.c_str(), a[0], a[1], a[2]);
    return buf;
  }

 private:
  std::mt19937_64 rng_;
  int users_;
  uint64_t n_ = 0;
};

// Writes `count` lines; every `dup_every`-th line repeats an earlier event.
// Returns the number of distinct event ids written.
inline uint64_t WriteEventsFile(const std::string& path, uint64_t count, uint64_t seed, uint64_t dup_every = 0) {
  EventGenerator gen(seed);
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return 0;
  std::string last;
  uint64_t distinct = 0;
  for (uint64_t i = 0; i < count; ++i) {
    if (dup_every != 0 && i % dup_every == dup_every - 1 && !last.empty()) {
      std::fprintf(f, "%s\n", last.c_str());
      continue;
    }
    last = gen.Next();
    ++distinct;
    std::fprintf(f, "%s\n", last.c_str());
  }
  std::fclose(f);
  return distinct;
}

}  // namespace noxsync::testing
