#include "tests/fakes/fake_kit.h"

#include <boost/json.hpp>

namespace noxsync::fakes {

namespace json = boost::json;

std::optional<FakeResponse> FaultList::Take(const std::string& endpoint,
                                            const std::function<std::string(int)>& error_body, int* delay_ms) {
  for (auto it = faults_.begin(); it != faults_.end(); ++it) {
    if (endpoint.rfind(it->endpoint, 0) != 0) continue;
    FakeFault f = *it;
    if (--it->times <= 0) faults_.erase(it);
    FakeResponse res;
    res.delay_ms = f.delay_ms;
    if (f.fault != Fault::kNone) {
      res.body = error_body(500);
      res.fault = f.fault;
      return res;
    }
    if (f.malformed) {
      res.body = R"({"result":[{"sys_id":"1","issues":[{"key":)";
      return res;
    }
    if (f.status != 0) {
      res.status = f.status;
      res.body = error_body(f.status);
      if (!f.retry_after.empty()) res.headers.push_back({"Retry-After", f.retry_after});
      return res;
    }
    *delay_ms = f.delay_ms;
    return std::nullopt;
  }
  return std::nullopt;
}

FakeRequest ControlRequest(const std::string& path, const std::string& json_body) {
  FakeRequest r;
  r.method = "POST";
  r.path = path;
  r.body = json_body;
  return r;
}

bool ParseFault(const json::object& b, FakeFault* f, std::string* error) {
  auto str = [&](const char* k) {
    const json::value* v = b.if_contains(k);
    return v && v->is_string() ? std::string(v->get_string()) : std::string();
  };
  auto num = [&](const char* k, int fallback) {
    const json::value* v = b.if_contains(k);
    return v && v->is_int64() ? static_cast<int>(v->get_int64()) : fallback;
  };
  f->endpoint = str("endpoint");
  f->status = num("status", 0);
  f->delay_ms = num("delay_ms", 0);
  f->times = num("times", 1);
  f->retry_after = str("retry_after");
  std::string kind = str("kind");
  f->fault = kind == "reset" ? Fault::kReset : kind == "truncated" ? Fault::kTruncated : Fault::kNone;
  f->malformed = kind == "malformed";
  if (f->endpoint.empty()) {
    *error = "control API: endpoint is required (\"POST /path\")";
    return false;
  }
  if (!kind.empty() && kind != "reset" && kind != "truncated" && kind != "malformed") {
    *error = "control API: kind is reset, truncated or malformed";
    return false;
  }
  return true;
}

void RequestLog::Add(const FakeRequest& r) {
  FakeRecord rec{r.method, r.path, "", r.body, !r.Header("authorization").empty()};
  if (size_t q = r.target.find('?'); q != std::string::npos) rec.query = r.target.substr(q + 1);
  records_.push_back(std::move(rec));
}

std::string RequestLog::Json() const {
  json::array list;
  for (const auto& rec : records_) {
    list.push_back(json::object{{"method", rec.method}, {"path", rec.path}, {"query", rec.query}});
  }
  return json::serialize(list);
}

}  // namespace noxsync::fakes
