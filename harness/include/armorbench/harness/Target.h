// The one interface every target implements (runc, crun, kata, cvm): prepare a sandbox running
// the model server under the requested enforcement, let the orchestrator talk to it, run
// attacks against it from outside, observe it, and tear it down. New targets add a file and a
// line in make_target(), never a branch in the orchestrator.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "armorbench/base/Subprocess.h"
#include "armorbench/base/UniqueFd.h"
#include "armorbench/harness/CgroupStats.h"
#include "armorbench/harness/Scenario.h"

namespace armorbench {

class HostFacts;

// A file the case puts into the sandbox before the workload starts (a service-account token,
// CUDA driver stand-ins). Paths under /tmp and /run land in the scratch dirs; /dev/* paths are
// bound in as files.
struct PlantedFile {
  std::string sandbox_path;
  std::string content;
  unsigned mode = 0644;
};

struct WorkloadSpec {
  std::string id;                        // unique per case run; names containers and domains
  std::filesystem::path model_dir;       // host directory, visible read-only at /run/models
  std::string model_file;                // file name inside model_dir
  Loader loader = Loader::kTorch;
  std::vector<PlantedFile> planted;
  ResourceLimits limits;                 // as resolved for the mode (none in the positive control)
  std::chrono::milliseconds ready_timeout{120'000};
};

// How the workload is to be enforced: the target decides where the enforcer runs (host kernel
// for containers, guest kernel for VMs).
struct EnforcementPlan {
  EnforcerMode mode = EnforcerMode::kOff;
  std::vector<std::filesystem::path> policies;
  std::string backend = "auto";
  std::string default_posture = "block";
};

struct ReadyResult {
  bool ready = false;
  nlohmann::json ready_message;          // what the server reported (pid, load_ms, loader)
  std::string failure;                   // why it is not ready
  std::chrono::milliseconds elapsed{0};  // from start to ready (or failure)
};

// An attack performed from outside the sandbox (the memory-dump attacker).
struct ExternalAttack {
  std::string method;  // process_vm_readv | proc_mem | ptrace | core_dump
  std::string from;    // host | sibling
  std::string canary_hex;
};

struct ExternalAttackOutcome {
  bool ran = false;             // false: not applicable to this target (see detail)
  bool objective_reached = false;
  bool denied = false;          // the attacker saw a denial (EPERM, killed)
  ExitStatus status;
  nlohmann::json detail;
};

struct SandboxFinal {
  std::optional<ExitStatus> workload_exit;
  CgroupStats cgroup;
  std::string server_log;       // stderr tail of the model server
};

// What a sandbox says about itself, for results and for payloads that must reach the host.
struct SandboxInfo {
  std::string runtime;          // "runc 1.1.5", "qemu-tcg"
  std::string host_address;     // the harness as seen from inside (127.0.0.1, 10.0.2.2)
  std::string enforcer_backend; // "tracepoint", "bpf-lsm", "" when off
  std::string enforcer_location;  // "host kernel", "guest kernel"
  std::optional<std::uint64_t> cgroup_id;
};

class Sandbox {
 public:
  virtual ~Sandbox() = default;  // tears everything down, on every path

  virtual const SandboxInfo& info() const = 0;
  virtual ReadyResult wait_ready() = 0;
  // A connected byte stream to the model server's HTTP endpoint.
  virtual UniqueFd connect_inference() = 0;
  // Contents of a file inside the sandbox (for objectives), nullopt when absent.
  virtual std::optional<std::string> read_file(const std::string& sandbox_path) = 0;
  virtual ExternalAttackOutcome run_external_attack(const ExternalAttack& attack) = 0;
  // Decisions the enforcer recorded for this sandbox, as event JSON objects.
  virtual std::vector<nlohmann::json> enforcer_events() = 0;
  // Executables started inside the sandbox (observed, for `exec` objectives), when watched.
  virtual std::vector<std::string> executed_paths() = 0;
  // Stops the workload and collects what can only be read before teardown.
  virtual SandboxFinal stop() = 0;
  virtual nlohmann::json timings() const = 0;
};

class Target {
 public:
  virtual ~Target() = default;
  virtual const TargetSpec& spec() const = 0;
  // Why this target cannot run on this host (not-run, with evidence), or nullopt.
  virtual std::optional<std::string> unavailable_reason() = 0;
  // Whether `exec` objectives can be observed in this target's sandboxes.
  virtual bool watches_exec() const = 0;
  virtual std::unique_ptr<Sandbox> launch(const WorkloadSpec& workload,
                                          const EnforcementPlan& enforcement,
                                          bool watch_exec) = 0;
};

// Everything a target needs from the run: where to put its scratch files and the data dir.
struct TargetContext {
  std::filesystem::path work_dir;     // per-run scratch, removed at exit
  std::filesystem::path data_dir;     // source tree: model server, payloads
  std::filesystem::path bin_dir;      // built tools: armorbench-memdump, armorbench-miner, agent
  std::filesystem::path events_dir;   // where enforcer event logs go (kept in --out)
  std::string run_id;
};

std::unique_ptr<Target> make_target(const TargetSpec& spec, const TargetContext& context);

}  // namespace armorbench
