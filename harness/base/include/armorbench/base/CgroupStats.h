// Reads a cgroup (a container's on the host, the workload's inside a guest): its v2 id (what the
// enforcer scopes by) and the kernel's own evidence of limits being hit (pids.events, memory
// failcnt/oom_kill), on v1, v2 or hybrid hosts.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace armorbench {

struct CgroupStats {
  std::uint64_t pids_max_events = 0;  // forks refused at pids.max
  std::uint64_t pids_current = 0;
  std::uint64_t memory_max_events = 0;  // allocations that hit the limit (failcnt / events max)
  std::uint64_t memory_oom_kills = 0;
  std::uint64_t memory_peak_bytes = 0;
  std::uint64_t cpu_usage_us = 0;

  nlohmann::json to_json() const;
  // Missing keys read as 0 (a guest agent of an older protocol); wrong types throw.
  static CgroupStats from_json(const nlohmann::json& json);
};

class CgroupPaths {
 public:
  // The cgroups of process `pid` as mounted on this host; nullopt when it is gone.
  static std::optional<CgroupPaths> of_process(pid_t pid);
  // A cgroup v2 directory that holds every controller (a guest's own cgroup, pure v2).
  static CgroupPaths of_unified(const std::filesystem::path& directory);

  // cgroup v2 directory (or empty when the host has no v2 hierarchy).
  const std::filesystem::path& unified() const { return unified_; }
  // The v2 cgroup id: the inode of its directory, what bpf_get_current_cgroup_id() returns.
  std::optional<std::uint64_t> unified_id() const;
  CgroupStats read_stats() const;

 private:
  std::filesystem::path unified_;
  std::filesystem::path pids_;
  std::filesystem::path memory_;
  std::filesystem::path cpu_;
  bool pids_v2_ = false, memory_v2_ = false, cpu_v2_ = false;
};

// Where the cgroup v2 hierarchy is mounted (/sys/fs/cgroup or /sys/fs/cgroup/unified).
std::optional<std::filesystem::path> cgroup2_mount();

// Removes a cgroup v2 directory and every cgroup below it (deepest first); what cannot be removed
// (a cgroup with processes) stays. Directories that are already gone are no error.
void remove_cgroup_tree(const std::filesystem::path& directory);

}  // namespace armorbench
