// The snapshot cache without a guest: what invalidates a snapshot (snapshot_key), and what the
// cache keeps (prune_snapshots: the most recently used, the leased, nothing a dead build left).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "TempDir.h"
#include "armorbench/vms/GuestSnapshot.h"

namespace armorbench::vms {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

SnapshotSpec base_spec() {
  SnapshotSpec spec;
  spec.image.hash = "guest-hash";
  spec.warm.argv = {"/usr/bin/python3", "-c", "import torch"};
  spec.warm.env = {"HOME=/tmp"};
  return spec;
}

constexpr const char* kListing = "/usr/lib/python3/dist-packages/torch/__init__.py 100 1\n";

TEST(SnapshotKey, ChangesWithEveryInputAndOnlyThen) {
  const SnapshotSpec spec = base_spec();
  const std::string key = snapshot_key(spec, kListing, "agent-sha", "qemu 7002000 libvirt 9000000");
  EXPECT_EQ(key.size(), 64u);
  EXPECT_EQ(key, snapshot_key(spec, kListing, "agent-sha", "qemu 7002000 libvirt 9000000"));

  const std::vector<std::pair<const char*, std::function<std::string()>>> changes = {
      {"torch upgraded (size, mtime)",
       [&] {
         return snapshot_key(spec, "/usr/lib/python3/dist-packages/torch/__init__.py 101 2\n",
                             "agent-sha", "qemu 7002000 libvirt 9000000");
       }},
      {"agent rebuilt",
       [&] { return snapshot_key(spec, kListing, "agent-sha2", "qemu 7002000 libvirt 9000000"); }},
      {"QEMU upgraded",
       [&] { return snapshot_key(spec, kListing, "agent-sha", "qemu 8000000 libvirt 9000000"); }},
      {"guest kernel or initramfs",
       [&] {
         SnapshotSpec s = spec;
         s.image.hash = "other";
         return snapshot_key(s, kListing, "agent-sha", "qemu 7002000 libvirt 9000000");
       }},
      {"memory",
       [&] {
         SnapshotSpec s = spec;
         s.memory_mib = 1536;
         return snapshot_key(s, kListing, "agent-sha", "qemu 7002000 libvirt 9000000");
       }},
      {"vcpus",
       [&] {
         SnapshotSpec s = spec;
         s.vcpus = 2;
         return snapshot_key(s, kListing, "agent-sha", "qemu 7002000 libvirt 9000000");
       }},
      {"accel",
       [&] {
         SnapshotSpec s = spec;
         s.accel = Accel::kKvm;
         return snapshot_key(s, kListing, "agent-sha", "qemu 7002000 libvirt 9000000");
       }},
      {"warm script",
       [&] {
         SnapshotSpec s = spec;
         s.warm.argv[2] = "import torch, numpy";
         return snapshot_key(s, kListing, "agent-sha", "qemu 7002000 libvirt 9000000");
       }},
      {"workload environment",
       [&] {
         SnapshotSpec s = spec;
         s.warm.env.push_back("PYTHONUNBUFFERED=1");
         return snapshot_key(s, kListing, "agent-sha", "qemu 7002000 libvirt 9000000");
       }},
  };
  for (const auto& [what, changed] : changes) EXPECT_NE(changed(), key) << what;
}

// A complete-looking snapshot directory, used `age` seconds ago.
fs::path fake_snapshot(const fs::path& cache, const std::string& key, int age) {
  const fs::path dir = cache / key;
  fs::create_directories(dir);
  for (const char* file : {"root.ext4", "memory.save"}) std::ofstream(dir / file) << "x";
  std::ofstream(dir / "snapshot.json") << "{\"key\":\"" << key << "\"}";
  fs::last_write_time(dir / "snapshot.json",
                      fs::file_time_type::clock::now() - std::chrono::seconds(age));
  return dir;
}

TEST(SnapshotCache, KeepsTheMostRecentlyUsedAndTheCurrentOne) {
  TempDir cache;
  fake_snapshot(cache.path(), "aaa", 10);
  fake_snapshot(cache.path(), "bbb", 20);
  fake_snapshot(cache.path(), "ccc", 30);
  fake_snapshot(cache.path(), "current", 40);
  const auto removed = prune_snapshots(cache.path(), 2, "current");
  EXPECT_TRUE(fs::exists(cache.path() / "current")) << "the one in use now stays, however old";
  EXPECT_TRUE(fs::exists(cache.path() / "aaa")) << "the most recently used other one stays";
  EXPECT_FALSE(fs::exists(cache.path() / "bbb"));
  EXPECT_FALSE(fs::exists(cache.path() / "ccc"));
  EXPECT_EQ(removed.size(), 2u);
}

TEST(SnapshotCache, RemovesWhatDeadBuildsLeft) {
  TempDir cache;
  fake_snapshot(cache.path(), "current", 1);
  fs::create_directories(cache.path() / "deadbeef");  // no snapshot.json: its build died
  std::ofstream(cache.path() / "deadbeef" / "root.ext4") << "x";
  prune_snapshots(cache.path(), 2, "current");
  EXPECT_FALSE(fs::exists(cache.path() / "deadbeef"));
  EXPECT_TRUE(fs::exists(cache.path() / "current"));
}

TEST(SnapshotCache, NeverRemovesALeasedSnapshotAndLeasesAreExclusive) {
  TempDir cache;
  GuestSnapshot leased;
  leased.dir = fake_snapshot(cache.path(), "leased", 100);
  fake_snapshot(cache.path(), "current", 1);
  {
    auto lease = SnapshotLease::try_acquire(leased);
    ASSERT_TRUE(lease.has_value());
    EXPECT_FALSE(SnapshotLease::try_acquire(leased).has_value())
        << "one restored guest per snapshot at a time";
    prune_snapshots(cache.path(), 1, "current");
    EXPECT_TRUE(fs::exists(leased.dir)) << "a guest restored from it is running";
  }
  EXPECT_TRUE(SnapshotLease::try_acquire(leased).has_value()) << "released with the lease";
  prune_snapshots(cache.path(), 1, "current");
  EXPECT_FALSE(fs::exists(leased.dir));
}

}  // namespace
}  // namespace armorbench::vms
