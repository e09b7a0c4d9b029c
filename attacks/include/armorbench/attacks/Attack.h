// What an attack kind is, in one interface: the TOML keys it takes (its parser, registered by
// name in AttackRegistry.cpp), how it stages a run (the model the sandbox loads, files planted),
// what it does from outside while the model is served, the objective the harness observes for
// itself, the kernel's evidence of a denial specific to it, and the enforcer operations it is
// expected to trip. Targets offer primitives (AttackSurface); no target knows any attack.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "armorbench/base/CgroupStats.h"
#include "armorbench/base/Enforcement.h"
#include "armorbench/base/Error.h"
#include "armorbench/base/Evidence.h"
#include "armorbench/base/Subprocess.h"
#include "armorbench/base/UniqueFd.h"
#include "armorbench/workload/ModelArtifacts.h"
#include "armorbench/workload/WorkloadSpec.h"

namespace armorbench {
class TomlTable;
}

namespace armorbench::attacks {

// The host process whose memory holds the served model: a container's model server, or the
// QEMU process of a guest.
struct ModelHolder {
  pid_t pid = 0;
  std::string description;  // "the container's model server", "the QEMU process of the guest"
  // How much memory a dump must read for a miss to mean the canary is not there (a guest's
  // RAM); 0: the holder's own memory, whatever its size.
  std::uint64_t memory_bytes = 0;
};

// A program the exec watch saw start inside the sandbox. An exec the enforcer killed at the
// exec itself (SIGKILL before its first instruction) started nothing that ran.
struct ExecutedProgram {
  std::string path;
  std::uint32_t pid = 0;
  bool killed_at_exec = false;
  std::string killed_by;  // "enforcer (tracepoint): rule ..."
};

// A process run beside the sandbox as a privileged sibling: same host, its own cgroup, the
// host's pid namespace and extra capabilities (a privileged pod with hostPID on the same node).
struct SiblingSpec {
  std::vector<std::string> argv;
  std::vector<std::pair<std::filesystem::path, std::string>> binds;  // host path, read-only at
  std::vector<std::string> capabilities;                             // e.g. "CAP_SYS_PTRACE"
  std::chrono::milliseconds timeout{120'000};
};

// The sandbox's writable storage (/tmp, /run), measured from the harness's side.
struct StorageUsage {
  std::uint64_t used_bytes = 0;              // allocated to what is stored there
  std::optional<std::uint64_t> limit_bytes;  // the size of its storage under a disk limit
  // Under a limit: whether a write of the harness's own into the storage was refused with
  // ENOSPC (the kernel refusing any byte more), and that refusal's text.
  bool full = false;
  std::string probe;
};

struct MemoryDumpInfo {
  std::uint64_t bytes = 0;
  std::chrono::milliseconds elapsed{0};
  std::string format;             // "elf"
  std::string api;                // "virDomainCoreDumpWithFormat"
  std::uint64_t guest_bytes = 0;  // the RAM the dump must cover
};

// The primitives a target offers to attacks. A target that has no such primitive throws an
// unsupported Error (the run is then not-run, with that reason).
class AttackSurface {
 public:
  virtual ~AttackSurface() = default;
  // How the sandbox reaches the harness's listeners (127.0.0.1, QEMU's 10.0.2.2).
  virtual std::string host_address() const = 0;
  // Contents of a file inside the sandbox, nullopt when absent.
  virtual std::optional<std::string> read_file(const std::string& sandbox_path) = 0;
  virtual ModelHolder model_holder() = 0;
  // Writes the sandbox's whole memory to `file` (a VM's RAM through the hypervisor).
  virtual MemoryDumpInfo dump_memory(const std::filesystem::path& file) = 0;
  virtual CommandResult run_sibling(const SiblingSpec& sibling) = 0;
  // Programs started inside the sandbox, as the exec watch observed them.
  virtual std::vector<ExecutedProgram> executed_programs() = 0;
  // A new connection to the model server's HTTP endpoint, as any client of it would open one.
  virtual UniqueFd connect_inference() = 0;
  virtual StorageUsage storage_usage() = 0;
};

// A refusal of an operation (or, with `refused` false, a record of it in audit mode), as a
// verdict may rest on it: who refused (the enforcer with its backend, the kernel's pids or
// memory controller, the kernel's ptrace checks, the runtime), what, and on what resource.
struct Denial {
  std::string by;  // "enforcer (tracepoint)", "kernel (pids controller)", "kernel", ...
  Operation operation = Operation::kOther;
  std::string resource;  // a path, "addr:port", "pid N", "pids.max"
  std::string detail;    // one line for a reviewer
  bool refused = true;   // false: recorded only (an audit event)
  nlohmann::json evidence;
  std::string rule;  // the enforcer's rule ("" for the kernel's own refusals)

  nlohmann::json to_json() const;
};

// What the harness saw of an objective (never the attack's own word).
struct ObjectiveStatus {
  bool reached = false;
  std::string detail;  // what was seen, or what was looked for and not seen
  std::vector<Evidence> evidence;
  // Whether the harness saw the attempt itself run its course (the dump read the memory and
  // found nothing): only then can a target's isolation be credited with a failure.
  bool attempted = false;
  // Refusals the objective's own observation proves (the dumper's EPERM, its SIGKILL).
  std::vector<Denial> denials;
};

// An operation the attack needs and a policy (or a kernel limit) is expected to deny or record:
// the exec of the payload's program, the open of a token, a connect to the listener, a read of
// another process's memory, a fork beyond pids.max. `resource` is a path (a glob allowed), an
// "addr:port" ("*" for any address or port), "pids.max"/"memory.max", or "" when any will do.
struct ExpectedOperation {
  Operation operation = Operation::kOther;
  std::string resource;
  std::string why;

  // Whether a denial or event about `operation` on `resource` is this operation. Paths match
  // exactly, as globs, or after resolving links on the host (/bin/sh is /usr/bin/dash).
  bool matches(Operation operation, const std::string& resource) const;
  nlohmann::json to_json() const;
};

// Where built tools and scripts are.
struct AttackContext {
  std::filesystem::path data_dir;  // the source tree: attacks/models, attacks/payloads
  std::filesystem::path bin_dir;   // built tools: armorbench-memdump, armorbench-miner
};

// One run of an attack: made fresh for every case run.
class Attack {
 public:
  virtual ~Attack() = default;
  // Stages the run into `workload` (its model dir and file start as the benign model's).
  // `run_dir` is this run's own directory on the host.
  virtual void prepare(const ModelArtifacts& model, const std::filesystem::path& run_dir,
                       const std::string& host_address, WorkloadSpec& workload) = 0;
  // Once the model server is up: attacks from outside happen here (never when it is not ready:
  // there is nothing to attack, and a failure then would prove nothing).
  virtual void while_serving(AttackSurface& surface) { (void)surface; }
  // Observes the objective now (called repeatedly until reached or the settle time is over).
  virtual ObjectiveStatus observe(AttackSurface& surface) = 0;
  // Sandbox files observe() reads: a VM target keeps them past the guest's power-off.
  virtual std::vector<std::string> sandbox_files() const { return {}; }
  // Kernel evidence of a denial specific to this attack, from the workload's final cgroup
  // (pids.max refusing forks, the OOM killer).
  virtual std::vector<Denial> kernel_denials(const CgroupStats& final) const {
    (void) final;
    return {};
  }
  // The operations of this run when it knows more than the definition (the listener's port);
  // empty: the definition's.
  virtual std::vector<ExpectedOperation> expected_operations() const { return {}; }
  virtual bool needs_exec_watch() const { return false; }
  // The objective of this run when it says more than the definition's (the limit of this
  // target); null: the definition's.
  virtual nlohmann::json objective() const { return nullptr; }
};

// An attack as a scenario declares it, validated: one per case, making an Attack per run.
class AttackDefinition {
 public:
  virtual ~AttackDefinition() = default;
  virtual const std::string& kind() const = 0;  // "pickle-injection", ...
  // The kind's own keys as parsed, defaults filled in ({"gadget": "os.system", ...}).
  virtual nlohmann::json parameters() const { return nlohmann::json::object(); }
  // The objective and the operations, as results record them.
  virtual nlohmann::json objective() const = 0;
  virtual std::vector<ExpectedOperation> expected_operations() const = 0;
  // A target must offer this limit for the attack to exceed ("pids", "memory"); the positive
  // control runs without it, every other run with it.
  virtual std::optional<std::string> required_limit() const { return std::nullopt; }
  virtual std::unique_ptr<Attack> instantiate(const AttackContext& context,
                                              const ResourceLimits& target_limits) const = 0;

  SourceLocation where;
};

// What a kind's parser may need from the rest of the case.
struct AttackParseContext {
  std::filesystem::path scenario_file;
  std::optional<std::filesystem::path> model_file;  // the case's bring-your-own model
  Loader loader = Loader::kTorch;
};

// Reads an [attack] table: its `kind` picks the parser, which takes the kind's own keys.
// Errors carry file:line:column and a did-you-mean.
std::shared_ptr<const AttackDefinition> parse_attack(TomlTable& table,
                                                     const AttackParseContext& context);
std::vector<std::string> attack_kind_names();

// What a kind is, for reports (SARIF rules, HTML): what the attack tries, the weakness it
// exploits, and a severity on CVSS's 0-10 scale for the worst outcome it reaches (a code-scanning
// tool's `security-severity`: 8.8 is code execution on loading a file someone hands the server,
// 6.5 a resource abuse by the same route, 6.0 a local privileged reader taking the weights).
struct AttackKindInfo {
  std::string name;
  std::string summary;
  std::string cwe;  // "CWE-502"
  double severity = 0;
};
const std::vector<AttackKindInfo>& attack_kinds();

}  // namespace armorbench::attacks
