// The snapshot cache without a guest: what invalidates a snapshot (snapshot_key), and what the
// cache keeps (prune_snapshots: the most recently used, the leased, nothing a dead build left),
// the leases and the snapshot guests' locks (which orphaned guests are).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "FakeDomainXml.h"
#include "TempDir.h"
#include "armorbench/base/Interrupt.h"
#include "armorbench/vms/Domain.h"
#include "armorbench/vms/DomainSpec.h"
#include "armorbench/vms/GuestSnapshot.h"
#include "armorbench/vms/LibvirtConnection.h"

namespace armorbench::vms {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

SnapshotSpec base_spec() {
  SnapshotSpec spec;
  spec.image.hash = "guest-hash";
  spec.image.kernel = "/var/cache/armorbench/guest/vmlinux";
  spec.image.initrd = "/var/cache/armorbench/guest/initramfs.cpio.gz";
  spec.warm.argv = {"/usr/bin/python3", "-c", "import torch"};
  spec.warm.env = {"HOME=/tmp"};
  return spec;
}

constexpr const char* kListing = "/usr/lib/python3/dist-packages/torch/__init__.py 100 1\n";

SnapshotKeyInputs base_inputs() {
  return {kListing, "agent-sha", "qemu 7002000 libvirt 9000000", "builder-sha", "warm-sha"};
}

TEST(SnapshotKey, ChangesWithEveryInputAndOnlyThen) {
  const SnapshotSpec spec = base_spec();
  const std::string key = snapshot_key(spec, base_inputs());
  EXPECT_EQ(key.size(), 64u);
  EXPECT_EQ(key, snapshot_key(spec, base_inputs()));

  const auto with_inputs = [&](auto change) {
    SnapshotKeyInputs inputs = base_inputs();
    change(inputs);
    return snapshot_key(spec, inputs);
  };
  const auto with_spec = [&](auto change) {
    SnapshotSpec s = spec;
    change(s);
    return snapshot_key(s, base_inputs());
  };
  const std::vector<std::pair<const char*, std::function<std::string()>>> changes = {
      {"torch upgraded (size, mtime)",
       [&] {
         return with_inputs([](SnapshotKeyInputs& i) {
           i.root_listing = "/usr/lib/python3/dist-packages/torch/__init__.py 101 2\n";
         });
       }},
      {"agent rebuilt",
       [&] { return with_inputs([](SnapshotKeyInputs& i) { i.agent_sha256 = "agent-sha2"; }); }},
      {"QEMU upgraded",
       [&] {
         return with_inputs(
             [](SnapshotKeyInputs& i) { i.hypervisor = "qemu 8000000 libvirt 9000000"; });
       }},
      {"root image builder changed",
       [&] { return with_inputs([](SnapshotKeyInputs& i) { i.builder_sha256 = "builder-2"; }); }},
      {"warm script changed",
       [&] { return with_inputs([](SnapshotKeyInputs& i) { i.warm_script_sha256 = "warm-2"; }); }},
      {"guest kernel or initramfs",
       [&] { return with_spec([](SnapshotSpec& s) { s.image.hash = "other"; }); }},
      {"domain XML (the kernel's path)",
       [&] { return with_spec([](SnapshotSpec& s) { s.image.kernel = "/elsewhere/vmlinux"; }); }},
      {"memory", [&] { return with_spec([](SnapshotSpec& s) { s.memory_mib = 1536; }); }},
      {"vcpus", [&] { return with_spec([](SnapshotSpec& s) { s.vcpus = 2; }); }},
      {"accel", [&] { return with_spec([](SnapshotSpec& s) { s.accel = Accel::kKvm; }); }},
      {"warm argv",
       [&] { return with_spec([](SnapshotSpec& s) { s.warm.argv[2] = "import torch, numpy"; }); }},
      {"workload environment",
       [&] {
         return with_spec([](SnapshotSpec& s) { s.warm.env.push_back("PYTHONUNBUFFERED=1"); });
       }},
  };
  for (const auto& [what, changed] : changes) EXPECT_NE(changed(), key) << what;
}

// The XML digested is the one the build boots with, the key-dependent parts stood in for.
TEST(SnapshotKey, DigestsTheSnapshotGuestsDomainXml) {
  SnapshotSpec spec = base_spec();
  spec.memory_mib = 1536;
  const std::string xml = snapshot_domain_xml(spec);
  EXPECT_NE(xml.find("/var/cache/armorbench/guest/vmlinux"), std::string::npos) << xml;
  EXPECT_NE(xml.find("armorbench.root=/dev/vda"), std::string::npos) << xml;
  EXPECT_NE(xml.find("1536"), std::string::npos) << xml;
  EXPECT_EQ(xml, snapshot_domain_xml(spec));
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

TEST(SnapshotCache, NeverRemovesALeasedSnapshotAndLeasesAreShared) {
  TempDir cache;
  const fs::path leased = fake_snapshot(cache.path(), "leased", 100);
  fake_snapshot(cache.path(), "current", 1);
  {
    auto lease = SnapshotLease::try_acquire(leased);
    ASSERT_TRUE(lease.has_value());
    EXPECT_TRUE(SnapshotLease::try_acquire(leased).has_value())
        << "every target restoring from it holds one for its whole run";
    prune_snapshots(cache.path(), 1, "current");
    EXPECT_TRUE(fs::exists(leased)) << "a target will restore its next case from it";
  }
  EXPECT_TRUE(SnapshotLease::try_acquire(leased).has_value()) << "released with the lease";
  prune_snapshots(cache.path(), 1, "current");
  EXPECT_FALSE(fs::exists(leased));
}

// Three kata targets of different memory or vCPUs hold three snapshots; keep = 2 prunes none of
// them while their runs last (before, a target between two cases lost its snapshot).
TEST(SnapshotCache, ThreeTargetsKeepTheirSnapshotsBeyondKeep) {
  TempDir cache;
  std::vector<SnapshotLease> leases;
  for (const char* key : {"one", "two", "three"}) {
    auto lease = SnapshotLease::try_acquire(fake_snapshot(cache.path(), key, 50));
    ASSERT_TRUE(lease.has_value());
    leases.push_back(std::move(*lease));
  }
  fake_snapshot(cache.path(), "current", 1);
  EXPECT_TRUE(prune_snapshots(cache.path(), 2, "current").empty());
  for (const char* key : {"one", "two", "three"}) EXPECT_TRUE(fs::exists(cache.path() / key));
}

// A harness built before the leases (another checkout on the same host) locks in-use.lock while
// its restored guest runs: that snapshot stays too.
TEST(SnapshotCache, KeepsWhatAnOlderHarnessHolds) {
  TempDir cache;
  const fs::path old = fake_snapshot(cache.path(), "old", 100);
  fake_snapshot(cache.path(), "current", 1);
  const int held = ::open((old / "in-use.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_EQ(::flock(held, LOCK_EX), 0);
  prune_snapshots(cache.path(), 1, "current");
  EXPECT_TRUE(fs::exists(old));
  ::close(held);
  prune_snapshots(cache.path(), 1, "current");
  EXPECT_FALSE(fs::exists(old));
}

TEST(SnapshotCache, ALeaseOnAPrunedSnapshotIsRefusedNotAnError) {
  TempDir cache;
  const fs::path old = fake_snapshot(cache.path(), "old", 100);
  fake_snapshot(cache.path(), "current", 1);
  prune_snapshots(cache.path(), 1, "current");
  ASSERT_FALSE(fs::exists(old));
  std::optional<SnapshotLease> lease;
  EXPECT_NO_THROW(lease = SnapshotLease::try_acquire(old));
  EXPECT_FALSE(lease.has_value());
}

// What pruning does while it holds a snapshot: its lease file locked exclusively, then unlinked
// with the rest. A lease asked for meanwhile is refused, and so is one asked for right after
// (on the file just unlinked, or one recreated in the dir being removed).
TEST(SnapshotCache, NoLeaseWhilePruningRemovesIt) {
  TempDir cache;
  const fs::path dir = fake_snapshot(cache.path(), "going", 100);
  ASSERT_TRUE(SnapshotLease::try_acquire(dir).has_value());  // creates lease.lock
  const int pruner = ::open((dir / "lease.lock").c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(pruner, 0);
  ASSERT_EQ(::flock(pruner, LOCK_EX), 0);
  EXPECT_FALSE(SnapshotLease::try_acquire(dir).has_value());
  fs::remove(dir / "snapshot.json");
  fs::remove(dir / "lease.lock");
  ::close(pruner);
  EXPECT_FALSE(SnapshotLease::try_acquire(dir).has_value());
}

// The cache lock's wait says what it waits for once it lasts, and a signal or the thread's step
// deadline ends it (it used to block in flock, deaf to both).
TEST(CacheLock, AWaitSaysWhatItWaitsForAndCanBeInterrupted) {
  TempDir cache;
  const UniqueFd held = lock_cache_dir(cache.path());
  ASSERT_TRUE(held);
  {
    StepDeadline step("cache-lock", std::chrono::milliseconds(2600));
    ::testing::internal::CaptureStderr();
    EXPECT_THROW(lock_cache_dir(cache.path()), Interrupted);
    const std::string said = ::testing::internal::GetCapturedStderr();
    EXPECT_NE(said.find("waiting for " + (cache.path() / ".lock").string()), std::string::npos)
        << said;
    EXPECT_NE(said.find("pid " + std::to_string(::getpid())), std::string::npos) << said;
  }
  std::thread release([&held] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    ::flock(held.get(), LOCK_UN);
  });
  EXPECT_TRUE(lock_cache_dir(cache.path())) << "taken once the holder lets go";
  release.join();
}

TEST(SnapshotGuestLock, OneHolderPerDomainName) {
  TempDir locks;
  auto held = SnapshotGuestLock::try_acquire(locks.path(), "ab-snap-0123456789abcdef");
  ASSERT_TRUE(held.has_value());
  EXPECT_EQ(held->domain_name(), "ab-snap-0123456789abcdef");
  EXPECT_FALSE(SnapshotGuestLock::try_acquire(locks.path(), "ab-snap-0123456789abcdef"));
  EXPECT_TRUE(SnapshotGuestLock::try_acquire(locks.path(), "ab-snap-fedcba9876543210"));
  held.reset();
  EXPECT_TRUE(SnapshotGuestLock::try_acquire(locks.path(), "ab-snap-0123456789abcdef"));
}

// A restored guest whose lock nobody holds is an orphan, whatever cache (if any) its snapshot
// came from; one whose lock is held (a running case, a build) is not; other domains never are.
TEST(SnapshotGuestLock, OrphansAreTheUnlockedSnapshotGuestsWhateverTheirCache) {
  TempDir locks;
  LibvirtConnection connection("test:///default");
  Domain orphan =
      Domain::create(connection, testing::fake_micro_vm_xml("ab-snap-00000000000000aa"), {});
  Domain running =
      Domain::create(connection, testing::fake_micro_vm_xml("ab-snap-00000000000000bb"), {});
  Domain other = Domain::create(connection, testing::fake_micro_vm_xml("ab-0badc0de-1"), {});
  const auto lock = SnapshotGuestLock::try_acquire(locks.path(), "ab-snap-00000000000000bb");
  ASSERT_TRUE(lock.has_value());
  {
    const auto orphans = orphaned_snapshot_guests(connection, locks.path());
    ASSERT_EQ(orphans.size(), 1u);
    EXPECT_EQ(orphans[0].domain_name(), "ab-snap-00000000000000aa");
    EXPECT_FALSE(SnapshotGuestLock::try_acquire(locks.path(), "ab-snap-00000000000000aa"))
        << "held until the caller destroyed it: nobody restores under that name meanwhile";
  }
  EXPECT_TRUE(SnapshotGuestLock::try_acquire(locks.path(), "ab-snap-00000000000000aa"));
}

}  // namespace
}  // namespace armorbench::vms
