#include "store/rocks_log_file.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "tests/temp_dir.h"

namespace noxsync {
namespace {

std::string Read(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

TEST(RocksLogFile, KeepsWarningsAndErrorsOneLineEachAndDropsTheRest) {
  testing::TempDir dir;
  const std::string path = dir.Sub("LOG");
  {
    RocksLogFile log(path);
    auto shared = std::shared_ptr<rocksdb::Logger>(&log, [](auto*) {});
    rocksdb::Log(rocksdb::InfoLogLevel::INFO_LEVEL, shared, "flushed %d files", 3);
    EXPECT_FALSE(std::filesystem::exists(path)) << "nothing worth keeping yet: no file";
    rocksdb::Log(rocksdb::InfoLogLevel::WARN_LEVEL, shared, "[meta] Stopping writes because of %d memtables\n", 3);
    rocksdb::Log(rocksdb::InfoLogLevel::ERROR_LEVEL, shared, "Background IO error %s", "No space left on device");
  }
  const std::string text = Read(path);
  EXPECT_NE(text.find(" warning [meta] Stopping writes because of 3 memtables\n"), std::string::npos) << text;
  EXPECT_NE(text.find(" error Background IO error No space left on device\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("flushed"), std::string::npos) << text;
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 2) << text;
}

TEST(RocksLogFile, StaysNearItsBoundWithThePreviousOneAsLogOld) {
  testing::TempDir dir;
  const std::string path = dir.Sub("LOG");
  {
    // Left by an earlier run, over the bound: it becomes LOG.old at once.
    std::ofstream(path) << std::string(5000, 'x') << "\n";
  }
  RocksLogFile log(path, /*max_bytes=*/4096);
  auto shared = std::shared_ptr<rocksdb::Logger>(&log, [](auto*) {});
  rocksdb::Log(rocksdb::InfoLogLevel::WARN_LEVEL, shared, "first");
  EXPECT_EQ(std::filesystem::file_size(path + ".old"), 5001u);
  for (int i = 0; i < 400; ++i) rocksdb::Log(rocksdb::InfoLogLevel::WARN_LEVEL, shared, "line %04d of a long spell", i);
  // Each file stops a line past the bound; the newest lines are in LOG.
  EXPECT_LE(std::filesystem::file_size(path), 4096u + 100);
  EXPECT_LE(std::filesystem::file_size(path + ".old"), 4096u + 100);
  EXPECT_NE(Read(path).find("line 0399 of a long spell"), std::string::npos);
}

TEST(RocksLogFile, AReaderKeepsNothing) {
  testing::TempDir dir;
  RocksLogFile log("");
  auto shared = std::shared_ptr<rocksdb::Logger>(&log, [](auto*) {});
  rocksdb::Log(rocksdb::InfoLogLevel::ERROR_LEVEL, shared, "nowhere");
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

}  // namespace
}  // namespace noxsync
