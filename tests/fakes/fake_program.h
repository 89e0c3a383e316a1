// What the fake backend programs (noxsync-fake-jira, noxsync-fake-servicenow)
// share: serve a handler on 127.0.0.1 until SIGINT or SIGTERM, printing
// "<banner> listening on http://127.0.0.1:PORT" once ready.
#pragma once

#include <string>

#include "tests/fakes/http_server.h"

namespace noxsync::fakes {

// Returns the process exit code: 0 after a signal, 1 if the port is taken.
int ServeUntilSignal(int port, const Handler& handler, const std::string& banner,
                     const std::function<void(const std::string& base_url)>& on_ready = {});

// Reads --port N (0..65535) style integers; exits 2 with the usage on error.
int ParsePortOrExit(const char* value, const char* usage);

}  // namespace noxsync::fakes
