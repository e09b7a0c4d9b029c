// Leases and the reaping of dead runs' leftovers, on scratch directories standing in for the
// lease dir, the work base and the cgroup root (the privileged end-to-end test kills a real run).
#include "armorbench/harness/StaleRuns.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <fstream>

#include "armorbench/base/Hex.h"
#include "armorbench/harness/Workspace.h"

namespace armorbench {
namespace {
namespace fs = std::filesystem;

class StaleRuns : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("stale-runs-test-" + random_hex(4));
    options_.lease_dir = root_ / "leases";
    options_.work_bases = {root_ / "work"};
    options_.cgroup_root = root_ / "cgroup";
    options_.runtimes = {};     // never touch the host's containers from a unit test
    options_.libvirt_uri = "";  // nor its guests
    options_.snapshot_build_base = root_ / "run";
    fs::create_directories(options_.lease_dir);
    fs::create_directories(root_ / "work");
  }
  void TearDown() override { fs::remove_all(root_); }

  static pid_t dead_pid() {
    const pid_t child = ::fork();
    if (child == 0) ::_exit(0);
    ::waitpid(child, nullptr, 0);
    return child;
  }
  void write_lease(const std::string& run_id, const std::string& content) {
    std::ofstream(options_.lease_dir / run_id) << content;
  }

  fs::path root_;
  ReapOptions options_;
};

TEST_F(StaleRuns, StartTimeOfThisProcessIsKnownAndOfADeadOneIsZero) {
  EXPECT_GT(process_start_time(::getpid()), 0u);
  EXPECT_EQ(process_start_time(dead_pid()), 0u);
}

TEST_F(StaleRuns, OwnLeaseIsLiveAndGoneAfterDestruction) {
  {
    RunLease lease(options_.lease_dir, "0badcafe");
    EXPECT_TRUE(lease_is_live(options_.lease_dir / "0badcafe"));
  }
  EXPECT_FALSE(fs::exists(options_.lease_dir / "0badcafe"));
}

TEST_F(StaleRuns, DeadPidRecycledPidAndGarbageAreNotLive) {
  write_lease("00000001", std::to_string(dead_pid()) + " 12345\n");
  // This process is alive, but it is not the one that wrote a lease with another start time.
  write_lease("00000002", std::to_string(::getpid()) + " " +
                              std::to_string(process_start_time(::getpid()) + 1));
  write_lease("00000003", "not a lease");
  for (const char* id : {"00000001", "00000002", "00000003"})
    EXPECT_FALSE(lease_is_live(options_.lease_dir / id)) << id;
}

// A run SIGKILLed a moment ago whose parent has not reaped it yet (the shell that started it,
// a CI runner) is a zombie with its pid and start time intact: `clean` right after the kill
// must see it dead.
TEST_F(StaleRuns, AKilledRunNotYetReapedIsNotLive) {
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  if (child == 0) {
    ::close(ready[0]);
    RunLease lease(options_.lease_dir, "5ca1ab1e");
    (void)::write(ready[1], "x", 1);
    ::pause();
    ::_exit(0);
  }
  ::close(ready[1]);
  char byte = 0;
  ASSERT_EQ(::read(ready[0], &byte, 1), 1);
  ::close(ready[0]);
  EXPECT_TRUE(lease_is_live(options_.lease_dir / "5ca1ab1e"));
  EXPECT_FALSE(process_is_dying(child));
  ::kill(child, SIGKILL);
  // Until it is a zombie the pending SIGKILL says so; after, its state does. Never reaped here
  // before the check.
  for (int i = 0; i < 200 && !process_is_dying(child); ++i) ::usleep(1000);
  EXPECT_TRUE(process_is_dying(child));
  EXPECT_FALSE(lease_is_live(options_.lease_dir / "5ca1ab1e"));
  EXPECT_EQ(process_start_time(child) != 0, true) << "the zombie still has its /proc entry";
  ::waitpid(child, nullptr, 0);
}

TEST_F(StaleRuns, RemovesOnlyWhatDeadRunsLeft) {
  RunLease live(options_.lease_dir, "0badcafe");
  write_lease("deadbeef", std::to_string(dead_pid()) + " 1\n");
  for (const char* run : {"deadbeef", "0badcafe", "12345678"}) {
    fs::create_directories(root_ / "work" / ("armorbench-" + std::string(run)) / "models");
    fs::create_directories(root_ / "cgroup" / "unified" / "armorbench" /
                           ("ab-" + std::string(run) + "-1"));
    fs::create_directories(root_ / "cgroup" / "pids" / "armorbench" /
                           ("ab-" + std::string(run) + "-2-sibling"));
  }
  std::ofstream(root_ / "work" / "armorbench-12345678" / kKeepMarker) << "kept\n";
  fs::create_directories(root_ / "work" / "unrelated");

  ReapOptions dry = options_;
  dry.dry_run = true;
  const auto listed = reap_stale_runs(dry);
  EXPECT_TRUE(fs::exists(root_ / "work" / "armorbench-deadbeef")) << "a dry run removes nothing";

  const auto removed = reap_stale_runs(options_);
  EXPECT_EQ(listed.size(), removed.size());
  std::multiset<std::string> kinds;
  for (const auto& r : removed) {
    EXPECT_TRUE(r.error.empty()) << r.what << ": " << r.error;
    EXPECT_NE(r.run_id, "0badcafe") << "the live run's " << r.kind << " " << r.what;
    kinds.insert(r.kind);
  }
  // deadbeef: dir, 2 cgroups, lease; 12345678: 2 cgroups (its kept dir stays; it has no lease).
  EXPECT_EQ(kinds,
            (std::multiset<std::string>{"cgroup", "cgroup", "cgroup", "cgroup", "dir", "lease"}));
  EXPECT_FALSE(fs::exists(root_ / "work" / "armorbench-deadbeef"));
  EXPECT_FALSE(fs::exists(root_ / "cgroup" / "unified" / "armorbench" / "ab-deadbeef-1"));
  EXPECT_FALSE(fs::exists(root_ / "cgroup" / "pids" / "armorbench" / "ab-deadbeef-2-sibling"));
  EXPECT_FALSE(fs::exists(options_.lease_dir / "deadbeef"));
  EXPECT_TRUE(fs::exists(root_ / "work" / "armorbench-0badcafe" / "models"));
  EXPECT_TRUE(fs::exists(root_ / "cgroup" / "unified" / "armorbench" / "ab-0badcafe-1"));
  EXPECT_TRUE(fs::exists(root_ / "work" / "armorbench-12345678" / kKeepMarker));
  EXPECT_TRUE(fs::exists(root_ / "work" / "unrelated"));
  EXPECT_TRUE(reap_stale_runs(options_).empty()) << "a second pass finds nothing";
}

// A snapshot build killed outright leaves /run/armorbench/vm-snapshot-<pid>: removed once its
// process is gone, kept while it lives.
TEST_F(StaleRuns, RemovesTheRunDirOfADeadSnapshotBuild) {
  const fs::path dead = root_ / "run" / ("vm-snapshot-" + std::to_string(dead_pid()));
  const fs::path live = root_ / "run" / ("vm-snapshot-" + std::to_string(::getpid()));
  for (const fs::path& dir : {dead, live}) {
    fs::create_directories(dir);
    std::ofstream(dir / "console.log") << "x";
  }
  const auto found = reap_stale_runs(options_);
  EXPECT_FALSE(fs::exists(dead));
  EXPECT_TRUE(fs::exists(live)) << "its build is running";
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].kind, "dir");
  EXPECT_TRUE(found[0].error.empty()) << found[0].error;
}

TEST_F(StaleRuns, AnotherUsersWorkDirStays) {
  const fs::path theirs = root_ / "work" / "armorbench-feedf00d";
  fs::create_directories(theirs);
  ReapOptions as_another_user = options_;
  as_another_user.owner = ::geteuid() + 1;  // the dir is this process's, so not that user's
  EXPECT_TRUE(reap_stale_runs(as_another_user).empty());
  EXPECT_TRUE(fs::exists(theirs)) << "a run of another user holds no lease; not ours to judge";
  EXPECT_EQ(reap_stale_runs(options_).size(), 1u) << "its owner's clean does remove it";
  EXPECT_FALSE(fs::exists(theirs));
}

TEST_F(StaleRuns, DescribeSaysWhatHappened) {
  const std::vector<StaleResource> resources = {
      {"deadbeef", "container", "ab-deadbeef-1 (runc)", ""},
      {"deadbeef", "cgroup", "/sys/fs/cgroup/unified/armorbench/ab-deadbeef-1", "rmdir: busy"}};
  EXPECT_EQ(describe(resources, false),
            "removed container ab-deadbeef-1 (runc) (run deadbeef)\n"
            "could not remove cgroup /sys/fs/cgroup/unified/armorbench/ab-deadbeef-1 (run "
            "deadbeef): rmdir: busy\n");
  EXPECT_EQ(describe({resources[0]}, true),
            "would remove container ab-deadbeef-1 (runc) (run deadbeef)\n");
}

}  // namespace
}  // namespace armorbench
