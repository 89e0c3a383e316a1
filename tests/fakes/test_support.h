// Helpers shared by the adapter and HTTP tests: a sleeper that moves a
// ManualClock instead of sleeping, a capture of everything spdlog writes (to
// prove no secret is logged), and a throw-away CA with server certificates
// made by the openssl command.
#pragma once

#include <cstdlib>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "sync/clock.h"

namespace noxsync::testing {

class RecordingSleeper final : public Sleeper {
 public:
  explicit RecordingSleeper(ManualClock* clock) : clock_(clock) {}
  void SleepFor(int64_t micros) override {
    std::lock_guard lock(mu_);
    sleeps_.push_back(micros);
    clock_->Advance(micros);
  }
  std::vector<int64_t> sleeps() const {
    std::lock_guard lock(mu_);
    return sleeps_;
  }

 private:
  ManualClock* clock_;
  mutable std::mutex mu_;
  std::vector<int64_t> sleeps_;
};

// Sends spdlog's default logger to a string for the life of the object.
class LogCapture {
 public:
  LogCapture() {
    previous_ = spdlog::default_logger();
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    auto logger = std::make_shared<spdlog::logger>("capture", sink);
    logger->set_level(spdlog::level::trace);
    spdlog::set_default_logger(logger);
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  std::string text() const { return out_.str(); }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> previous_;
};

// A CA and a server certificate for "localhost" only (so 127.0.0.1 is the
// wrong name), written to `dir`. Returns false if openssl failed.
inline bool MakeTestCertificates(const std::string& dir) {
  std::string cmd =
      "cd '" + dir + "' && "
      "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 "
      "-subj '/CN=noxsync test CA' >/dev/null 2>&1 && "
      "openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj '/CN=localhost' "
      ">/dev/null 2>&1 && "
      "printf 'subjectAltName=DNS:localhost\\nbasicConstraints=CA:FALSE\\n' > ext.cnf && "
      "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 "
      "-extfile ext.cnf >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

}  // namespace noxsync::testing
