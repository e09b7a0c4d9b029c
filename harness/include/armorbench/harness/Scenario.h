// The validated scenario model: what a scenario file declares, after every check has passed.
// Scenario files are TOML (README "Scenario reference"); ScenarioLoader turns them into these
// plain structs, and nothing downstream re-validates them.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "armorbench/base/EnforcerMode.h"
#include "armorbench/base/Error.h"

namespace armorbench {

enum class TargetKind { kRunc, kCrun, kKata, kCvm };
enum class NetworkMode { kHost, kNone };
enum class Loader { kTorch, kTorchWeightsOnly, kSafetensors, kPickle };

// What was observed for one case run (README "Scoring").
enum class Verdict {
  kAllowed,    // benign case served correctly
  kDisrupted,  // benign case broken: a false positive
  kBlocked,    // attack objective not reached and a denial was recorded
  kDetected,   // audit mode: attack reached its objective and its event was recorded
  kReached,    // attack reached its objective
  kInvalid,    // the result cannot be trusted (see the reason)
  kNotRun,     // the host cannot run it (see the reason)
  kError,      // the harness or the target failed
};

enum class AttackKind {
  kNone,                // benign model
  kPickleInjection,     // code in the model's pickle runs on load
  kCryptominer,         // the load drops and starts a Stratum miner
  kMemoryDump,          // a process outside the sandbox reads the weights from memory
  kSecretExfiltration,  // the load sends a mounted token to a listener
  kCudaAbuse,           // an unlisted binary opens CUDA driver libraries or devices
  kForkBomb,            // the load forks beyond the pids limit
  kMemoryHog,           // the load allocates beyond the memory limit
  kCustom,              // bring-your-own model file with a declared objective
};

enum class ObjectiveKind {
  kFileCreated,
  kConnect,
  kExec,
  kCanaryFound,
  kShareSubmitted,
  kResourceExceeded
};

std::string to_string(TargetKind kind);
std::string to_string(NetworkMode mode);
std::string to_string(Loader loader);
std::string to_string(Verdict verdict);
std::string to_string(AttackKind kind);
std::string to_string(ObjectiveKind kind);
std::optional<Verdict> verdict_from_string(const std::string& text);

struct ResourceLimits {
  std::optional<double> cpus;
  std::optional<std::uint64_t> memory_bytes;
  std::optional<std::int64_t> pids;
};

// Guest settings of the VM targets (kata, cvm).
struct VmSettings {
  std::uint64_t memory_mib = 1024;
  int vcpus = 1;
  std::string accel = "auto";   // auto | kvm | tcg
  std::string launch_security;  // cvm only: sev | sev-snp | tdx
  std::chrono::milliseconds boot_timeout{120'000};
};

struct TargetSpec {
  std::string name;
  TargetKind kind = TargetKind::kRunc;
  std::string rootfs = "host";  // "host" or a directory
  NetworkMode network = NetworkMode::kHost;
  ResourceLimits limits;
  VmSettings vm;
  SourceLocation where;
};

struct EnforcerSpec {
  std::vector<std::filesystem::path> policies;  // resolved against the scenario's directory
  std::vector<EnforcerMode> modes{EnforcerMode::kOff};
  std::string backend = "auto";           // auto | tracepoint | bpf-lsm
  std::string default_posture = "block";  // what allowlists do not allow: block | audit
  SourceLocation where;
};

struct ModelSpec {
  std::string generator = "mlp";              // generated benign model (with canary)
  std::optional<std::filesystem::path> file;  // bring-your-own model file
  std::vector<int> layers{64, 1024, 1024, 10};
  SourceLocation where;
};

// An attacker's goal as the harness observes it (never as the attack reports it).
struct ObjectiveSpec {
  ObjectiveKind kind = ObjectiveKind::kFileCreated;
  std::string path;      // file_created, exec
  std::string contains;  // file_created: text the file must contain
  std::string host;      // connect
  int port = 0;          // connect
  std::string resource;  // resource_exceeded: pids | memory
  std::string canary;    // canary_found: hex bytes to look for (default: the model's canary)
  std::string method = "process_vm_readv";  // canary_found: how the host reads the memory
  SourceLocation where;
};

struct AttackSpec {
  AttackKind kind = AttackKind::kNone;
  std::string gadget;  // pickle-injection: os.system | subprocess.Popen | builtins.exec | os.execv
  std::string action;  // pickle-injection builtins.exec: marker | connect
  std::string format = "pt";  // pt | pickle
  std::string method;         // memory-dump: process_vm_readv | proc_mem | ptrace | io_uring
                              //   | core_dump (VM targets: virDomainCoreDumpWithFormat)
  std::string from = "host";  // memory-dump: host | sibling
  std::optional<ObjectiveSpec> objective;  // custom attacks declare theirs
  SourceLocation where;
};

struct CaseSpec {
  std::string name;
  std::string description;
  ModelSpec model;
  Loader loader = Loader::kTorch;
  AttackSpec attack;
  int requests = 16;
  int warmup = 2;
  std::chrono::milliseconds timeout{120'000};
  std::chrono::milliseconds settle{2'000};  // how long to wait for an asynchronous objective
  std::vector<std::string> requires_features;
  std::map<EnforcerMode, Verdict> expect;  // explicit expectations; defaults fill the rest
  SourceLocation where;

  bool is_attack() const { return attack.kind != AttackKind::kNone; }
};

struct GateSpec {
  std::optional<double> min_block_rate;
  std::optional<double> min_detection_rate;
  std::optional<double> max_false_positive_rate;
  std::optional<std::int64_t> max_invalid;
  SourceLocation where;
};

struct Scenario {
  std::filesystem::path file;
  std::string name;
  std::string description;
  std::vector<std::string> controls;
  std::vector<TargetSpec> targets;
  EnforcerSpec enforcer;
  std::vector<CaseSpec> cases;
  GateSpec gate;
};

// The verdict a case run is expected to have: the case's explicit expectation for the mode, else
// the default (benign: allowed; attack: reached when off, detected in audit, blocked in block).
Verdict expected_verdict(const CaseSpec& c, EnforcerMode mode);

}  // namespace armorbench
