// The one interface every target implements (runc, crun, kata, cvm): prepare a sandbox running
// the model server under the requested enforcement, let the runner talk to it, offer attacks
// their primitives, observe it, and tear it down. New targets add a file and a line in
// make_target(), never a branch in the runner; new attacks touch no target.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "armorbench/attacks/Attack.h"
#include "armorbench/base/CgroupStats.h"
#include "armorbench/base/Subprocess.h"
#include "armorbench/base/UniqueFd.h"
#include "armorbench/enforcer/EventRecord.h"
#include "armorbench/harness/Scenario.h"
#include "armorbench/workload/WorkloadSpec.h"

namespace armorbench {

class HostFacts;
class HostEnforcerPool;

// How the workload is to be enforced: the target decides where the enforcer runs (host kernel
// for containers, guest kernel for VMs).
struct EnforcementPlan {
  EnforcerMode mode = EnforcerMode::kOff;
  std::vector<std::filesystem::path> policies;
  Backend backend = Backend::kAuto;
  DefaultPosture default_posture = DefaultPosture::kBlock;
  // The enforcer-load step's limit: loading and scoping it (a step within create).
  std::chrono::milliseconds load_timeout{60'000};
};

struct ReadyResult {
  bool ready = false;
  nlohmann::json ready_message;          // what the server reported (pid, load_ms, loader)
  std::string failure;                   // why it is not ready
  std::chrono::milliseconds elapsed{0};  // from start to ready (or failure)
};

struct SandboxFinal {
  std::optional<ExitStatus> workload_exit;
  bool exited_early = false;  // the workload had ended before the harness stopped it
  CgroupStats cgroup;
  std::string server_log;  // stderr tail of the model server
  // Refusals the runtime's configuration made the kernel record (seccomp), with their evidence.
  std::vector<attacks::Denial> runtime_denials;
};

// What a sandbox says about itself, for results.
struct SandboxInfo {
  std::string runtime;            // "runc 1.1.5", "qemu-tcg"
  std::string enforcer_backend;   // "tracepoint", "bpf-lsm", "" when off
  std::string enforcer_location;  // "host kernel", "guest kernel"
  bool enforcer_reused = false;   // the run's loaded enforcer, only its rules swapped
  std::optional<std::uint64_t> cgroup_id;
  std::filesystem::path cgroup_dir;  // its cgroup v2 directory (host containers)
  pid_t init_pid = 0;                // the container's init, as the host sees it
  std::vector<Evidence> evidence;    // what the case's evidence must say of how it was launched
};

// One case run's workload on a target. It offers attacks their primitives (AttackSurface:
// host address, files inside, the pid holding the model, a memory dump, a sibling) and knows no
// attack.
class Sandbox : public attacks::AttackSurface {
 public:
  ~Sandbox() override = default;  // tears everything down, on every path

  virtual const SandboxInfo& info() const = 0;
  virtual ReadyResult wait_ready() = 0;
  // A connected byte stream to the model server's HTTP endpoint.
  UniqueFd connect_inference() override = 0;
  // What the enforcer recorded for this sandbox (as actor or, for memory rules, as target).
  virtual enforcer::EnforcerReport enforcer_report() = 0;
  // Stops the workload and collects what can only be read before teardown; `keep_files` are
  // sandbox files read_file() must still answer for afterwards.
  virtual SandboxFinal stop(const std::vector<std::string>& keep_files) = 0;
  virtual nlohmann::json timings() const = 0;
  // True only when no process of the workload is left (its cgroup and every cgroup below are
  // empty): nothing in the sandbox can still reach an objective. False when unknown.
  virtual bool workload_gone() { return false; }
  // What the target logged (the model server's stderr, a guest's console), for a case that
  // ended in an error: read while the sandbox still exists, never throws.
  virtual std::vector<Evidence> failure_logs() { return {}; }

  // Programs started inside the sandbox: the exec watch's observations in the report, each
  // marked when the enforcer killed it at that exec.
  std::vector<attacks::ExecutedProgram> executed_programs() override;
  // Targets whose writable storage the harness can measure override this.
  attacks::StorageUsage storage_usage() override {
    throw unsupported_error("this target's writable storage cannot be measured from the host");
  }
};

class Target {
 public:
  virtual ~Target() = default;
  virtual const TargetSpec& spec() const = 0;
  // Why this target cannot run on this host (not-run, with evidence), or nullopt.
  virtual std::optional<std::string> unavailable_reason() = 0;
  // How this target's sandboxes reach the harness (127.0.0.1, QEMU's 10.0.2.2): payloads are
  // built with it before the sandbox starts.
  virtual std::string host_address() const = 0;
  // Whether `exec` objectives can be observed in this target's sandboxes.
  virtual bool watches_exec() const = 0;
  virtual std::unique_ptr<Sandbox> launch(const WorkloadSpec& workload,
                                          const EnforcementPlan& enforcement, bool watch_exec) = 0;
};

// Everything a target needs from the run: where to put its scratch files and the data dir.
struct TargetContext {
  std::filesystem::path work_dir;    // per-run scratch, removed at exit
  std::filesystem::path data_dir;    // source tree: model server, payloads
  std::filesystem::path bin_dir;     // built tools: armorbench-memdump, armorbench-miner, agent
  std::filesystem::path events_dir;  // where enforcer event logs go (kept in --out)
  std::string run_id;
  // The run's loaded host enforcer, shared by the container targets (null: each sandbox loads
  // its own).
  std::shared_ptr<HostEnforcerPool> host_enforcers;
};

// The exec watch's observations in `report`, each marked when a SIGKILL of the enforcer at that
// exec ended it before it ran.
std::vector<attacks::ExecutedProgram> executed_programs_in(const enforcer::EnforcerReport& report);

// The targets of this build, by kind (the runner's default factory).
std::unique_ptr<Target> make_target(const TargetSpec& spec, const TargetContext& context);

}  // namespace armorbench
