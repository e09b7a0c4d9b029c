// The harness's view of the bundled enforcer running in the host kernel (for container targets):
// loaded per sandbox with the scenario's policies, scoped to the sandbox's cgroup while the case
// runs, and asked afterwards which decisions it recorded for that cgroup.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "armorbench/enforcer/EventRecord.h"
#include "armorbench/harness/Target.h"

namespace armorbench {

class HostEnforcer {
 public:
  // Mode off loads no rules: only the exec watch that `exec` objectives need. Every event is
  // also appended to `events_file` (JSON lines, kept in the results directory).
  HostEnforcer(const EnforcementPlan& plan, std::filesystem::path events_file);
  ~HostEnforcer();
  HostEnforcer(const HostEnforcer&) = delete;
  HostEnforcer& operator=(const HostEnforcer&) = delete;

  // "tracepoint" or "bpf-lsm" (what the probe chose), or "exec-watch" in mode off.
  const std::string& backend() const;
  // Enforces on (and watches) the processes of the cgroup.
  // container_pid: the container's init, whose view of the filesystem (mount namespace, root)
  // path decisions require (0: not checked), see enforcer::Scope.
  void scope(std::uint64_t cgroup_id, const std::filesystem::path& cgroup_dir, bool watch_exec,
             pid_t container_pid = 0);
  void unscope(std::uint64_t cgroup_id);
  // Decisions about the cgroup's processes (as actor or, for memory rules, as target), and the
  // events the ring buffer lost.
  enforcer::EnforcerReport report_for(std::uint64_t cgroup_id);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace armorbench
