// sync_bench: what a poll cycle costs the backend and how fast changes come
// back, against the fake Jira over loopback HTTP.
//
// Setup: N open incidents (default 10,000), each with a Jira issue created
// by the engine. Then, for k people's changes between two polls, it measures
// the HTTP requests of one poll cycle and its time, and the same run
// measures the peer: naive per-ticket polling (one GET per open ticket).
// Targets (issue 5): requests per cycle <= ceil(k/100) + a constant; time
// from a ticket change to the Noxys state change <= poll interval + 1 s.
//
//   build/bench/sync_bench [--tickets=N]
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "adapters/jira/jira_backend.h"
#include "sync/engine.h"
#include "sync/ingestor.h"
#include "tests/event_generator.h"
#include "tests/fakes/fake_jira.h"
#include "tests/fakes/test_support.h"
#include "tests/temp_dir.h"

namespace noxsync {
namespace {

struct World {
  testing::TempDir dir;
  ManualClock clock{1'796'000'000'000'000};
  testing::RecordingSleeper sleeper{&clock};
  fakes::FakeJira jira{clock, {}};
  fakes::FakeHttpServer server;
  std::unique_ptr<Backend> backend;
  std::unique_ptr<EventLog> log;
  std::unique_ptr<SyncEngine> engine;
  std::vector<std::string> keys;
};

World* g_world = nullptr;
int g_tickets = 10000;

struct Row {
  int k;
  bool early;  // changes made early in the interval, not just before the poll
  double requests, seconds;
};
std::vector<Row> g_rows;
double g_naive_requests = 0, g_naive_seconds = 0;
double g_setup_seconds = 0;

void Setup() {
  auto t0 = std::chrono::steady_clock::now();
  g_world = new World();
  World& w = *g_world;
  std::string error;
  if (!w.server.Start(0, [&](const fakes::FakeRequest& r) { return w.jira.Handle(r); }, &error)) std::abort();
  w.jira.set_base_url(w.server.base_url());
  jira::JiraConfig jc;
  jc.base_url = w.server.base_url();
  jc.user = "noxsync@acme.example";
  jc.secret = Secret("fake-jira-api-token");
  jc.project = "SEC";
  jc.issue_type = "Security";
  jc.http.proxy = http::ProxyOptions{};
  w.backend = std::move(jira::MakeJiraBackend(jc, w.clock, w.sleeper)).value();
  w.log = std::move(EventLog::OpenForWrite(w.dir.Sub("store"))).value();
  {
    Ingestor ingestor(w.log.get(), &w.clock);
    testing::EventGenerator gen(42, 1 << 20);  // many users: every event its own incident
    std::vector<IngestLine> lines;
    for (int i = 0; i < g_tickets; ++i) lines.push_back({gen.Next(), 0, ""});
    std::vector<IngestResult> results;
    if (!ingestor.Ingest(lines, "bench", &results).ok()) std::abort();
  }
  SyncConfig config = SyncConfig::Defaults();
  Rule all;
  all.name = "all";
  config.rules = {all};
  config.auto_resolve_after_us = 0;
  w.engine = std::make_unique<SyncEngine>(w.log.get(), std::map<std::string, Backend*>{{"jira", w.backend.get()}},
                                          &w.clock, config);
  if (!w.engine->RunOnce().ok()) std::abort();
  for (const auto& issue : w.jira.Issues()) w.keys.push_back(issue.key);
  w.clock.Advance(10 * 60'000'000LL);
  if (!w.engine->Poll("jira").ok()) std::abort();  // settle the cursor
  g_setup_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// One poll cycle after k people's changes.
void BM_PollCycle(benchmark::State& state) {
  World& w = *g_world;
  int k = static_cast<int>(state.range(0));
  bool early = state.range(1) != 0;
  double requests = 0, seconds = 0;
  int cycles = 0;
  size_t next = 0;
  for (auto _ : state) {
    state.PauseTiming();
    // A 5-minute poll interval. People change k tickets either just before
    // the poll (the worst case: the previous cycle's changes are still inside
    // the minute-granular JQL overlap and are read again) or early in it.
    w.clock.Advance(early ? 1'000'000 : 5 * 60'000'000LL);
    std::string error;
    for (int i = 0; i < k; ++i) {
      const std::string& key = w.keys[next++ % w.keys.size()];
      w.jira.Move(key, (cycles % 2) ? "To Do" : "In Progress", &error);
    }
    w.clock.Advance(early ? 5 * 60'000'000LL : 1'000'000);
    w.jira.ClearRequests();
    state.ResumeTiming();
    auto t0 = std::chrono::steady_clock::now();
    if (!w.engine->Poll("jira").ok()) state.SkipWithError("poll failed");
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    requests += static_cast<double>(w.jira.requests().size());
    ++cycles;
  }
  state.counters["requests_per_cycle"] = requests / cycles;
  state.counters["changes_per_s"] = seconds > 0 ? k * cycles / seconds : 0;
  g_rows.push_back({k, early, requests / cycles, seconds / cycles});
}
BENCHMARK(BM_PollCycle)
    ->ArgsProduct({{0, 1, 10, 100, 1000}, {1, 0}})
    ->ArgNames({"k", "early"})
    ->Iterations(3)
    ->Unit(benchmark::kMillisecond);

// The peer: one GET per open ticket, the way a naive poller would look.
void BM_NaivePerTicketPoll(benchmark::State& state) {
  World& w = *g_world;
  for (auto _ : state) {
    w.jira.ClearRequests();
    auto t0 = std::chrono::steady_clock::now();
    for (const auto& key : w.keys) benchmark::DoNotOptimize(w.backend->Get(key));
    g_naive_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    g_naive_requests = static_cast<double>(w.jira.requests().size());
  }
  state.counters["requests_per_cycle"] = g_naive_requests;
}
BENCHMARK(BM_NaivePerTicketPoll)->Iterations(1)->Unit(benchmark::kMillisecond);

void PrintTable() {
  std::printf("\nnoxsync poll cycles against the fake Jira (loopback HTTP), %d open tickets, setup %.1f s\n", g_tickets,
              g_setup_seconds);
  std::printf("| changes k | when | requests per cycle | target ceil(k/100)+2 | cycle time | changes/s | naive per-ticket poll |\n");
  std::printf("|---|---|---|---|---|---|---|\n");
  for (const auto& r : g_rows) {
    double target = std::ceil(r.k / 100.0) + 2;
    std::printf("| %d | %s | %.0f | %.0f (%s) | %.1f ms | %.0f | %.0f requests, %.2f s |\n", r.k,
                r.early ? "early in the interval" : "just before the poll", r.requests, target,
                r.requests <= target ? "met" : "MISSED", r.seconds * 1e3, r.seconds > 0 ? r.k / r.seconds : 0,
                g_naive_requests, g_naive_seconds);
  }
  double one = 0;
  for (const auto& r : g_rows) {
    if (r.k == 1 && r.early) one = r.seconds;
  }
  std::printf("\nchange -> Noxys state: poll interval + %.1f ms (target: poll interval + at most 1 s: %s)\n", one * 1e3,
              one <= 1.0 ? "met" : "MISSED");
}

}  // namespace
}  // namespace noxsync

int main(int argc, char** argv) {
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "--tickets=", 10) == 0) {
      noxsync::g_tickets = std::atoi(argv[i] + 10);
    } else {
      args.push_back(argv[i]);
    }
  }
  int n = static_cast<int>(args.size());
  benchmark::Initialize(&n, args.data());
  noxsync::testing::LogCapture quiet;
  noxsync::Setup();
  benchmark::RunSpecifiedBenchmarks();
  noxsync::PrintTable();
  benchmark::Shutdown();
  return 0;
}
