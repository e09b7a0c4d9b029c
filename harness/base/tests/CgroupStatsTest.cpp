// Cgroup statistics: read from a v2 directory's files (a stand-in tree, no kernel needed) and
// carried through JSON unchanged.
#include "armorbench/base/CgroupStats.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

namespace armorbench {
namespace {
namespace fs = std::filesystem;

class CgroupDir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ab-cgroup-test-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }
  fs::path dir_;
};

TEST_F(CgroupDir, ReadsV2Files) {
  write("pids.events", "max 7\n");
  write("pids.current", "12\n");
  write("memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 2\noom_group_kill 0\n");
  write("memory.peak", "1048576\n");
  write("cpu.stat", "usage_usec 5000\nuser_usec 4000\nsystem_usec 1000\n");
  const CgroupStats s = CgroupPaths::of_unified(dir_).read_stats();
  EXPECT_EQ(s.pids_max_events, 7u);
  EXPECT_EQ(s.pids_current, 12u);
  EXPECT_EQ(s.memory_max_events, 3u);
  EXPECT_EQ(s.memory_oom_kills, 2u);
  EXPECT_EQ(s.memory_peak_bytes, 1048576u);
  EXPECT_EQ(s.cpu_usage_us, 5000u);
}

TEST_F(CgroupDir, MissingFilesReadAsZero) {
  const CgroupStats s = CgroupPaths::of_unified(dir_).read_stats();
  EXPECT_EQ(s.pids_max_events, 0u);
  EXPECT_EQ(s.memory_peak_bytes, 0u);
}

TEST(CgroupStats, JsonRoundTrip) {
  CgroupStats s;
  s.pids_max_events = 1;
  s.pids_current = 2;
  s.memory_max_events = 3;
  s.memory_oom_kills = 4;
  s.memory_peak_bytes = 5;
  s.cpu_usage_us = 6;
  const CgroupStats back = CgroupStats::from_json(s.to_json());
  EXPECT_EQ(back.to_json(), s.to_json());
  EXPECT_EQ(CgroupStats::from_json(nullptr).to_json(), CgroupStats{}.to_json());
}

}  // namespace
}  // namespace armorbench
