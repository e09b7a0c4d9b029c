// What a run leaves behind when its process dies before its destructors run (SIGKILL, the OOM
// killer, a crashed harness): containers still running the model server, the host-root bind
// mounts, cgroups and the work dir. Every such resource is named after the run id
// (ab-<run id>-N, armorbench-<run id>), and every live run holds a lease naming its process, so
// the resources of a run id without a live lease are stale and safe to remove.
// VMs need nothing here: they are started with VIR_DOMAIN_START_AUTODESTROY, so libvirt destroys
// them when the harness's connection closes, whatever way the process ended.
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace armorbench {

// Where live runs keep their leases: a tmpfs, so a reboot (which ends every run) clears it.
inline constexpr const char* kDefaultLeaseDir = "/run/armorbench/runs";

// The base directory of run work dirs: $ARMORBENCH_WORK_DIR, else /var/tmp. Never $TMPDIR: a VM
// guest sees the host root over 9p but has its own /tmp.
std::filesystem::path work_base();

// A live run's claim on its run id: the file <lease dir>/<run id> holds this process's pid and
// start time (field 22 of /proc/<pid>/stat, so a recycled pid does not look alive). Removed by
// the destructor.
class RunLease {
 public:
  RunLease(std::filesystem::path lease_dir, std::string run_id);  // throws an environment Error
  ~RunLease();
  RunLease(const RunLease&) = delete;
  RunLease& operator=(const RunLease&) = delete;

 private:
  std::filesystem::path file_;
};

// Whether the lease file names a process that is still the one that wrote it, and still running
// (not a zombie, no SIGKILL pending).
bool lease_is_live(const std::filesystem::path& lease_file);

// Whether a process is gone or on its way out: a zombie, or SIGKILL pending.
bool process_is_dying(pid_t pid);

// A process's start time in clock ticks since boot; 0 when there is no such process.
unsigned long long process_start_time(pid_t pid);

struct StaleResource {
  std::string run_id;
  std::string kind;   // "domain", "container", "mount", "cgroup", "dir", "lease"
  std::string what;   // the container id, mount point or path
  std::string error;  // empty when removed (or, in a dry run, removable)
};

struct ReapOptions {
  std::filesystem::path lease_dir = kDefaultLeaseDir;
  std::vector<std::filesystem::path> work_bases;  // default: /var/tmp and work_base()
  std::filesystem::path cgroup_root = "/sys/fs/cgroup";
  std::vector<std::string> runtimes = {"runc", "crun"};  // whose containers to look at
  // Where to look for guests restored from a VM snapshot ("" = nowhere), and where the locks of
  // their names say which are in use. A restore has no autodestroy (virDomainRestoreFlags offers
  // none): a run killed outright leaves its guest running.
  std::string libvirt_uri = "qemu:///system";
  std::filesystem::path snapshot_guest_lock_dir = "/run/armorbench/vm-snapshot-guests";
  // Where snapshot builds keep their guest's run dir (vm-snapshot-<pid>: sockets, console):
  // one whose process is gone is removed ("" = nowhere).
  std::filesystem::path snapshot_build_base = "/run/armorbench";
  uid_t owner = ::geteuid();  // whose work dirs to judge: only runs of this user hold leases
  bool dry_run = false;       // list only
};

// Finds the resources of runs that have no live lease and (unless dry_run) removes them:
// orphaned snapshot guests first (virDomainDestroy), the run dirs of snapshot builds whose process
// is gone, then containers (`runc|crun delete --force`),
// mounts, cgroups, work dirs and leases. A work dir kept on purpose (--keep-work), or owned by
// another user (whose runs hold no lease), stays; everything else of its run goes.
std::vector<StaleResource> reap_stale_runs(const ReapOptions& options);

// One line per resource, for stderr or the `clean` command.
std::string describe(const std::vector<StaleResource>& resources, bool dry_run);

// The marker a --keep-work run leaves in its work dir.
inline constexpr const char* kKeepMarker = ".armorbench-keep";

}  // namespace armorbench
