// What every fake backend shares: injected faults per endpoint, and the
// record of requests received (without their Authorization values). Neither
// is thread-safe; each fake guards them with its own mutex.
#pragma once

#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/fwd.hpp>

#include "tests/fakes/http_server.h"

namespace noxsync::fakes {

// An injected failure for requests whose "METHOD /path" starts with
// `endpoint` (e.g. "POST /rest/api/3/issue", "GET /api/now/table/incident").
struct FakeFault {
  std::string endpoint;
  int status = 0;            // reply with this status (and the backend's error body)
  std::string retry_after;   // Retry-After header value, if any
  int delay_ms = 0;          // then answer normally, this late
  Fault fault = Fault::kNone;  // reset or truncate
  bool malformed = false;    // 200 with a body that is not JSON
  int times = 1;             // how many matching requests it hits
};

struct FakeRecord {
  std::string method;
  std::string path;
  std::string query;  // raw, as sent
  std::string body;
  bool had_authorization = false;
};

class FaultList {
 public:
  void Add(FakeFault f) { faults_.push_back(std::move(f)); }
  void Clear() { faults_.clear(); }
  // The reply a matching fault dictates, if it replaces the real one; a
  // delay-only fault sets *delay_ms and lets the request through.
  std::optional<FakeResponse> Take(const std::string& endpoint,
                                   const std::function<std::string(int status)>& error_body, int* delay_ms);

 private:
  std::vector<FakeFault> faults_;
};

// A control-API request, as the fakes' person-acting methods make them.
FakeRequest ControlRequest(const std::string& path, const std::string& json_body);

// Reads {"endpoint","status","retry_after","delay_ms","times","kind"} (kind:
// reset, truncated, malformed) from the control API.
bool ParseFault(const boost::json::object& o, FakeFault* out, std::string* error);

class RequestLog {
 public:
  void Add(const FakeRequest& r);
  void Clear() { records_.clear(); }
  const std::vector<FakeRecord>& records() const { return records_; }
  std::string Json() const;  // [{"method","path","query"}...]

 private:
  std::vector<FakeRecord> records_;
};

// What every fake backend keeps besides its own state: the mutex that guards
// it all, the injected faults, and the record of requests. Thread-safe.
class FakeBackendBase {
 public:
  void InjectFault(FakeFault fault) {
    std::lock_guard lock(mu_);
    faults_.Add(std::move(fault));
  }
  void ClearFaults() {
    std::lock_guard lock(mu_);
    faults_.Clear();
  }
  std::vector<FakeRecord> requests() const {
    std::lock_guard lock(mu_);
    return requests_.records();
  }
  void ClearRequests() {
    std::lock_guard lock(mu_);
    requests_.Clear();
  }

 protected:
  mutable std::mutex mu_;  // guards everything of the fake
  FaultList faults_;
  RequestLog requests_;
};

}  // namespace noxsync::fakes
