// The validated scenario model: what a scenario file declares, after every check has passed.
// Scenario files are TOML (README "Scenario reference"); ScenarioLoader turns them into these
// plain structs, and nothing downstream re-validates them.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "armorbench/attacks/Attack.h"
#include "armorbench/base/Enforcement.h"
#include "armorbench/base/Error.h"
#include "armorbench/harness/Seccomp.h"
#include "armorbench/workload/ModelArtifacts.h"
#include "armorbench/workload/WorkloadSpec.h"

namespace armorbench {

enum class TargetKind { kRunc, kCrun, kKata, kCvm };
enum class NetworkMode { kHost, kNone };

// What was observed for one case run (README "Scoring").
enum class Verdict {
  kAllowed,    // benign case served correctly
  kDisrupted,  // benign case broken: a false positive
  kBlocked,    // attack objective not reached and a denial was recorded
  kDetected,   // audit mode: attack reached its objective and its event was recorded
  kReached,    // attack reached its objective
  kPrevented,  // the target's isolation stopped an attack that reached the reference target
  kInvalid,    // the result cannot be trusted (see the reason)
  kNotRun,     // the host cannot run it (see the reason)
  kError,      // the harness or the target failed
};

std::string to_string(TargetKind kind);
std::string to_string(NetworkMode mode);
std::string to_string(Verdict verdict);
std::optional<Verdict> verdict_from_string(const std::string& text);

// Guest settings of the VM targets (kata, cvm).
struct VmSettings {
  std::uint64_t memory_mib = 1024;
  int vcpus = 1;
  std::string accel = "auto";   // auto | kvm | tcg
  std::string launch_security;  // cvm only: sev | sev-snp | tdx
  std::chrono::milliseconds boot_timeout{120'000};
  // kata only: restore each case's guest from a saved snapshot with torch imported (vms/README.md
  // "Snapshots") instead of booting it; `snapshot = false` boots every case cold.
  bool snapshot = true;
};

// The name of the plain runc target a scenario gets when a VM target has no reference in it.
inline constexpr const char* kImplicitReference = "reference-runc";

struct TargetSpec {
  std::string name;
  TargetKind kind = TargetKind::kRunc;
  std::string rootfs = "host";  // "host" or a directory
  NetworkMode network = NetworkMode::kHost;
  ResourceLimits limits;
  // Containers only: the runtime's seccomp profile, and capabilities beyond runc's default set
  // (Docker's default adds e.g. CAP_NET_RAW).
  SeccompSpec seccomp;
  std::vector<std::string> capabilities;
  VmSettings vm;
  // The target whose positive controls this one's isolation is judged against ("" : its own):
  // a plain container for a micro-VM, a micro-VM for a confidential VM.
  std::string reference;
  bool reference_only = false;  // runs only the positive controls of the targets using it
  bool optional = false;        // not-run here is expected (hardware this host may lack)
  SourceLocation where;
};

struct EnforcerSpec {
  std::vector<std::filesystem::path> policies;  // resolved against the scenario's directory
  std::vector<EnforcerMode> modes{EnforcerMode::kOff};
  Backend backend = Backend::kAuto;
  DefaultPosture default_posture = DefaultPosture::kBlock;  // what allowlists do not allow
  SourceLocation where;
};

struct ModelSpec {
  std::string generator = "mlp";              // generated benign model (with canary)
  std::optional<std::filesystem::path> file;  // bring-your-own model file
  // The file served as declared (format, inputs, architecture). A custom attack's file without
  // a format stands in for the generated MLP's weights instead.
  std::optional<DeclaredModel> declared;
  std::vector<int> layers{64, 1024, 1024, 10};
  SourceLocation where;
};

// Time limits of a case run's steps (README "Timeouts"), from the scenario's [timeouts] and the
// case's own. A harness or target step past its limit (create, enforcer-load, objective,
// teardown) ends the case as an error naming the step, and the run goes on. A model server that
// is not ready, or a request not answered, within its limit is an observation scored like any
// other failure to serve (an error without enforcement, a disruption with it, a lost service
// after an attack).
struct StepLimits {
  std::chrono::milliseconds create{300'000};        // the sandbox made and its workload started
  std::chrono::milliseconds enforcer_load{60'000};  // the enforcer loaded and scoped (in create)
  std::chrono::milliseconds ready{120'000};         // until the model server answers ready
  std::chrono::milliseconds request{30'000};        // each inference request
  std::chrono::milliseconds objective{120'000};     // the attack's run and its observation
  std::chrono::milliseconds teardown{60'000};       // the workload stopped, its evidence read
};

struct CaseSpec {
  std::string name;
  std::string description;
  ModelSpec model;
  Loader loader = Loader::kTorch;
  // The attack (attacks/kinds/), null for a benign case.
  std::shared_ptr<const attacks::AttackDefinition> attack;
  int requests = 16;
  int warmup = 2;
  StepLimits timeouts;
  std::chrono::milliseconds settle{2'000};  // how long to wait for an asynchronous objective
  std::vector<std::string> requires_features;
  std::map<EnforcerMode, Verdict> expect;  // explicit expectations; defaults fill the rest
  // Expectations for one target (by name) over `expect` and the defaults.
  std::map<std::string, std::map<EnforcerMode, Verdict>> expect_on;
  SourceLocation where;

  bool is_attack() const { return attack != nullptr; }
  // The attack kind's name, "" for a benign case.
  std::string attack_kind() const { return attack ? attack->kind() : std::string(); }
};

struct GateSpec {
  std::optional<double> min_block_rate;
  std::optional<double> min_detection_rate;
  std::optional<double> max_false_positive_rate;
  std::optional<std::int64_t> max_invalid;
  // Benign inference latency, enforced mode over off (ratios; judged on their 95% interval).
  std::optional<double> max_overhead_p50;
  std::optional<double> max_overhead_p99;
  bool fail_inconclusive = true;               // on_inconclusive = "fail" (default) | "pass"
  std::optional<std::string> require_backend;  // every enforced run on this backend
  SourceLocation where;
};

struct Scenario {
  std::filesystem::path file;
  std::string name;
  std::string description;
  std::vector<std::string> controls;
  std::vector<TargetSpec> targets;
  EnforcerSpec enforcer;
  StepLimits timeouts;  // the scenario's [timeouts]: every case's unless it sets its own
  std::vector<CaseSpec> cases;
  GateSpec gate;
};

// The verdict a case run is expected to have: the case's expectation for the target and mode,
// else for the mode, else the default (benign: allowed; attack: reached when off, detected in
// audit, blocked in block).
Verdict expected_verdict(const CaseSpec& c, EnforcerMode mode, const std::string& target = "");

// The reference target of `target` in `scenario` (nullptr when it is its own).
const TargetSpec* reference_of(const Scenario& scenario, const TargetSpec& target);

}  // namespace armorbench
