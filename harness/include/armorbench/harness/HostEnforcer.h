// The harness's view of the bundled enforcer running in the host kernel (for container targets):
// loaded with the scenario's policies, scoped to each sandbox's cgroup while its case runs, and
// asked afterwards which decisions it recorded for that cgroup. Loading verifies every program
// and detaching waits out an RCU grace period per hook (together ~2 s here), so a run keeps one
// loaded enforcer in a HostEnforcerPool and only swaps its rule set (audit <-> block) and scopes
// the next sandbox.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "armorbench/enforcer/EventRecord.h"
#include "armorbench/harness/Target.h"

namespace armorbench {

class HostEnforcer {
 public:
  // Mode off loads no rules: only the exec watch that `exec` objectives need.
  explicit HostEnforcer(const EnforcementPlan& plan);
  ~HostEnforcer();
  HostEnforcer(const HostEnforcer&) = delete;
  HostEnforcer& operator=(const HostEnforcer&) = delete;

  // "tracepoint" or "bpf-lsm" (what the probe chose), or "exec-watch" in mode off.
  const std::string& backend() const;
  // Whether `plan` can be served by this enforcer with at most a rule swap (same backend asked,
  // same policies and posture, and enforcing or not alike).
  bool serves(const EnforcementPlan& plan) const;
  // Swaps in the rule set of `plan.mode` (one atomic map-in-map swap, a new generation) when it
  // is not the one in force. Requires serves(plan).
  void use(const EnforcementPlan& plan);
  // Enforces on (and watches) the processes of the cgroup; its events are also appended to
  // `events_file` (JSON lines, kept in the results directory).
  // container_pid: the container's init, whose view of the filesystem (mount namespace, root)
  // path decisions require (0: not checked), see enforcer::Scope.
  void scope(std::uint64_t cgroup_id, const std::filesystem::path& cgroup_dir, bool watch_exec,
             pid_t container_pid, const std::filesystem::path& events_file);
  // Ends enforcement on the cgroup; what happened before belongs to it and stays reportable.
  void unscope(std::uint64_t cgroup_id);
  // Decisions about the cgroup's processes (as actor or, for memory rules, as target), and the
  // events the ring buffer lost.
  enforcer::EnforcerReport report_for(std::uint64_t cgroup_id);
  // Drops what was kept for the cgroup (its sandbox is gone).
  void forget(std::uint64_t cgroup_id);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// At most one loaded host enforcer per run, handed from sandbox to sandbox. A plan it cannot
// serve (other policies, another backend, or mode off after enforcing) tears it down first, so
// a run in mode off never has an enforcing program attached.
class HostEnforcerPool {
 public:
  struct Lease {
    std::shared_ptr<HostEnforcer> enforcer;
    bool loaded = false;  // loaded for this lease (false: reused, only the rules swapped)
  };
  // The enforcer for `plan`, with its rule set in force.
  Lease acquire(const EnforcementPlan& plan);
  // Tears down the enforcer held (sandboxes still using it keep it until they end).
  void release();
  std::size_t loads() const { return loads_; }

 private:
  std::shared_ptr<HostEnforcer> current_;
  std::size_t loads_ = 0;
};

}  // namespace armorbench
