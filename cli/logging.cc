#include "cli/logging.h"

#include <cstdlib>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace noxsync::cli {

void SetUpLogging() {
  auto logger = spdlog::stderr_logger_mt("noxsync");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
  spdlog::level::level_enum level = spdlog::level::info;
  if (const char* env = std::getenv("NOXSYNC_LOG_LEVEL")) level = spdlog::level::from_str(env);
  logger->set_level(level);
  spdlog::set_default_logger(logger);
}

}  // namespace noxsync::cli
