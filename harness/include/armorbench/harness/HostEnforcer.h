// The harness's view of the bundled enforcer running in the host kernel (for container targets):
// loaded once per enforcer mode with the scenario's policies, scoped to each case's cgroup while
// the case runs, and asked afterwards which decisions it recorded for that cgroup.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "armorbench/harness/Target.h"

namespace armorbench {

class HostEnforcer {
 public:
  // Mode off loads no rules: only the exec watch that `exec` objectives need.
  HostEnforcer(const EnforcementPlan& plan, std::filesystem::path events_dir);
  ~HostEnforcer();
  HostEnforcer(const HostEnforcer&) = delete;
  HostEnforcer& operator=(const HostEnforcer&) = delete;

  // "tracepoint" or "bpf-lsm" (what the probe chose), or "exec-watch" in mode off.
  const std::string& backend() const;
  // Enforces on (and watches) the processes of the cgroup; `init_pid` is already inside.
  void scope(std::uint64_t cgroup_id, const std::filesystem::path& cgroup_dir, pid_t init_pid,
             bool watch_exec);
  void unscope(std::uint64_t cgroup_id);
  // Decisions about the cgroup's processes (as subject or, for memory rules, as target).
  std::vector<nlohmann::json> events_for(std::uint64_t cgroup_id);
  std::vector<std::string> executed_in(std::uint64_t cgroup_id);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace armorbench
