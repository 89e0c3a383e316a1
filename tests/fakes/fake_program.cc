#include "tests/fakes/fake_program.h"

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <thread>

namespace noxsync::fakes {
namespace {

volatile std::sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

}  // namespace

int ServeUntilSignal(int port, const Handler& handler, const std::string& banner,
                     const std::function<void(const std::string&)>& on_ready) {
  FakeHttpServer server;
  std::string error;
  if (!server.Start(static_cast<uint16_t>(port), handler, &error)) {
    std::fprintf(stderr, "%s: %s\n", banner.c_str(), error.c_str());
    return 1;
  }
  if (on_ready) on_ready(server.base_url());
  std::printf("%s listening on %s\n", banner.c_str(), server.base_url().c_str());
  std::fflush(stdout);
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  server.Stop();
  return 0;
}

int ParsePortOrExit(const char* value, const char* usage) {
  char* end = nullptr;
  long port = std::strtol(value, &end, 10);
  if (end == value || *end != '\0' || port < 0 || port > 65535) {
    std::fprintf(stderr, "not a port: %s\n\n%s", value, usage);
    std::exit(2);
  }
  return static_cast<int>(port);
}

}  // namespace noxsync::fakes
