// How one case's attack is staged and observed: which model the sandbox loads (a trojaned copy
// of the real model), what is planted in the sandbox, which harness-side listener or pool
// watches, what is done from outside (the memory dump), and how the objective is observed.
// The harness observes objectives itself; it never takes an attack's word for its success.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "armorbench/harness/ModelArtifacts.h"
#include "armorbench/harness/Scenario.h"
#include "armorbench/harness/Scoring.h"
#include "armorbench/harness/Target.h"

namespace armorbench {

struct ObjectiveStatus {
  bool reached = false;
  std::string detail;                 // what was seen, or what was looked for and not seen
  std::vector<Evidence> evidence;
};

struct AttackContext {
  std::filesystem::path data_dir;     // payload scripts, generators
  std::filesystem::path bin_dir;      // built attack tools (miner, memdump)
};

class AttackPlan {
 public:
  virtual ~AttackPlan() = default;

  // Fills the workload for one run: model dir and file, planted files. `run_dir` is this run's
  // own directory; `host_address` is how the sandbox reaches the harness.
  virtual void prepare(const ModelArtifacts& base, const std::filesystem::path& run_dir,
                       const std::string& host_address, WorkloadSpec& workload) = 0;
  // Called once the model server is up (or has failed): attacks from outside happen here.
  virtual void while_serving(Sandbox& sandbox) { (void)sandbox; }
  // Observes the objective now (called repeatedly until reached or the settle time is over).
  virtual ObjectiveStatus observe(Sandbox& sandbox) = 0;
  // Kernel evidence of a denial specific to this attack (cgroup limits hit), after stop.
  virtual std::vector<std::string> kernel_denials(const SandboxFinal& final) const {
    (void)final;
    return {};
  }
  // The objective as recorded in results (null for benign cases).
  virtual nlohmann::json objective() const { return nullptr; }
  virtual bool needs_exec_watch() const { return false; }
  // Resource limits for an enforced run (the positive control runs without any).
  virtual ResourceLimits enforced_limits(const ResourceLimits& target_limits) const {
    return target_limits;
  }
};

// `target` gives the limits resource attacks must exceed (the scenario loader has checked that
// the target declares them).
std::unique_ptr<AttackPlan> make_attack_plan(const CaseSpec& c, const TargetSpec& target,
                                             const AttackContext& context);

}  // namespace armorbench
