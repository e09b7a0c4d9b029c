// A micro-VM snapshot: a guest booted from a root image, its warm workload started (the
// interpreter with torch imported, waiting for its argv), then saved (virDomainSaveFlags). Each
// case restores it (GuestVmConfig::restore), so every case starts from the same state, saved
// before any case ran; the model is loaded after the restore. Kata's VM templating and
// Firecracker's snapshots are the same idea. Cached under the cache dir by a digest of
// everything the saved guest is made of, and bounded.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "armorbench/base/UniqueFd.h"
#include "armorbench/vms/AgentProtocol.h"
#include "armorbench/vms/DomainSpec.h"
#include "armorbench/vms/GuestImage.h"
#include "armorbench/vms/GuestVm.h"

namespace armorbench::vms {

inline constexpr const char* kDefaultSnapshotCacheDir = "/var/cache/armorbench/vm-snapshot";
// Restored guests keep the saved domain's name (libvirt allows no other): this prefix and the
// key's first 16 digits.
inline constexpr const char* kSnapshotDomainPrefix = "ab-snap-";
// Where the locks of snapshot guests' domain names live (SnapshotGuestLock): a tmpfs, like the
// domains (a reboot ends both), and independent of any cache dir.
inline constexpr const char* kDefaultSnapshotGuestLockDir = "/run/armorbench/vm-snapshot-guests";
// Bumped when what a snapshot holds changes in a way its inputs do not show.
inline constexpr int kSnapshotFormat = 1;

struct SnapshotSpec {
  GuestImage image;
  std::filesystem::path agent;    // the host's armorbench-guest-agent, copied into the root image
  std::filesystem::path builder;  // vms/guest/build-snapshot-root.py
  std::filesystem::path warm_script;  // harness/workload/warm_start.py
  std::filesystem::path python = "/usr/bin/python3";
  PrewarmRequest warm;  // argv {python, "-c", <warm script>}, the workload's env and cgroup
  unsigned memory_mib = 1024;
  unsigned vcpus = 1;
  Accel accel = Accel::kTcg;
  std::string uri = "qemu:///system";
  std::chrono::milliseconds boot_timeout{120'000};
  std::filesystem::path guest_lock_dir = kDefaultSnapshotGuestLockDir;
};

// A shared claim on a cached snapshot, held by each user (a kata target) for as long as it may
// restore from it (the whole run): prune_snapshots removes no snapshot anyone holds one on. Taken
// on the snapshot dir's lease file, which pruning locks exclusively before it removes the dir; a
// lease is only granted on the file still in place (not on one pruning just unlinked).
class SnapshotLease {
 public:
  // nullopt when the snapshot is gone or being removed.
  static std::optional<SnapshotLease> try_acquire(const std::filesystem::path& snapshot_dir);
  SnapshotLease(SnapshotLease&&) noexcept = default;
  SnapshotLease& operator=(SnapshotLease&&) noexcept = default;

 private:
  explicit SnapshotLease(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

struct GuestSnapshot {
  std::string key;  // sha256 hex over everything it is made of
  std::filesystem::path dir;
  SavedGuest saved;
  nlohmann::json meta;                   // what was built and how long each step took
  bool built = false;                    // false: served from the cache
  std::filesystem::path guest_lock_dir;  // where SnapshotGuestLock locks its domain name
  // ensure_guest_snapshot's shared lease, released with the last copy of this snapshot.
  std::shared_ptr<const SnapshotLease> lease;
};

// What a snapshot's key digests besides `spec` itself, read from the host.
struct SnapshotKeyInputs {
  std::string root_listing;  // the builder's --inputs listing: path, size, mtime of every file
  std::string agent_sha256;
  std::string hypervisor;  // libvirt's and QEMU's versions
  std::string builder_sha256;
  std::string warm_script_sha256;
};

// The digest a snapshot is cached by: the root image's inputs (so a torch upgrade changes it),
// the guest kernel and initramfs, the agent binary, the builder's and the warm script's
// content, the warm workload's argv and environment, the domain XML the snapshot's guest is
// booted and saved with (snapshot_domain_xml: memory, vCPUs, accelerator, devices, cmdline),
// libvirt's and QEMU's versions, and kSnapshotFormat. Pure.
std::string snapshot_key(const SnapshotSpec& spec, const SnapshotKeyInputs& inputs);

// The domain XML of `spec`'s snapshot guest as domain_xml() writes it, with fixed stand-ins for
// what depends on the key or the build (name, UUID, run dir, root image path). Pure.
std::string snapshot_domain_xml(const SnapshotSpec& spec);

// The cached snapshot for `spec`, built when missing (root image, boot, prewarm, save: ~1 min
// under TCG), with a SnapshotLease on it taken before anything is pruned. Old snapshots beyond
// `keep` are pruned. Concurrent callers serialise on a lock in `cache_dir`. Throws an environment
// Error (with the guest's console) when it cannot be built.
GuestSnapshot ensure_guest_snapshot(const std::filesystem::path& cache_dir,
                                    const SnapshotSpec& spec, std::size_t keep = 2);

// Removes every snapshot of `cache_dir` but the `keep` most recently used (and `except_key`),
// except those anyone holds a SnapshotLease on, and what builds that died left. The caller holds
// the cache lock. Returns what it removed.
std::vector<std::filesystem::path> prune_snapshots(const std::filesystem::path& cache_dir,
                                                   std::size_t keep, const std::string& except_key);

std::string snapshot_domain_name(const std::string& key);

// Exclusive use of a snapshot guest's domain name (ab-snap-<key16>) while a domain of that name
// runs: a restored guest (two domains with the saved UUID cannot run at once) or the guest booted
// to build the snapshot. Whoever holds it may destroy a domain of that name (a leftover); nobody
// else may. The lock file (<lock dir>/<name>.lock) is never removed. Released by the destructor.
class SnapshotGuestLock {
 public:
  // nullopt when another process (or lock) holds it.
  static std::optional<SnapshotGuestLock> try_acquire(const std::filesystem::path& lock_dir,
                                                      const std::string& domain_name);
  SnapshotGuestLock(SnapshotGuestLock&&) noexcept = default;
  SnapshotGuestLock& operator=(SnapshotGuestLock&&) noexcept = default;
  const std::string& domain_name() const { return name_; }

 private:
  SnapshotGuestLock(UniqueFd fd, std::string name) : fd_(std::move(fd)), name_(std::move(name)) {}
  UniqueFd fd_;
  std::string name_;
};

// The running `ab-snap-*` domains whose SnapshotGuestLock nobody holds, whatever cache they were
// restored from: leftovers of a run killed outright (a restore has no autodestroy), for
// `armorbench clean` to destroy. Each comes with its lock held, so nobody restores under that
// name before the caller destroyed it.
std::vector<SnapshotGuestLock> orphaned_snapshot_guests(
    const LibvirtConnection& connection,
    const std::filesystem::path& lock_dir = kDefaultSnapshotGuestLockDir);

}  // namespace armorbench::vms
