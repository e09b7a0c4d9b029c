// Runs one planned case run at a time: stages the attack, launches the workload on a target made
// by the factory it was given, measures serving, observes the objective and the denials, and
// scores. Targets come from a factory so that ordering, not-run, error and interrupt paths are
// unit-tested with a fake target, without root.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "armorbench/harness/Doctor.h"
#include "armorbench/harness/Results.h"
#include "armorbench/harness/Scenario.h"
#include "armorbench/harness/Scoring.h"
#include "armorbench/harness/Target.h"
#include "armorbench/workload/ModelArtifacts.h"

namespace armorbench {

// One planned case run of the matrix.
struct PlannedRun {
  const Scenario* scenario = nullptr;
  const CaseSpec* case_spec = nullptr;
  const TargetSpec* target = nullptr;
  EnforcerMode mode = EnforcerMode::kOff;
  bool implicit_control = false;          // an attack's positive control the scenario did not list
  const TargetSpec* reference = nullptr;  // the target's reference (isolation verdicts)
};

using TargetFactory =
    std::function<std::unique_ptr<Target>(const TargetSpec& spec, const TargetContext& context)>;
// Makes the benign model of a case into `dir`: `generator` is "mlp" (`layers` sizes it) or a
// format of make_formats.py (default: generate_model / generate_format_model).
using ModelFactory =
    std::function<ModelArtifacts(const std::string& generator, const std::vector<int>& layers,
                                 const std::filesystem::path& dir)>;
using HostProbe = std::function<HostFacts()>;

struct RunnerEnvironment {
  std::filesystem::path work_dir;    // per-run scratch
  std::filesystem::path data_dir;    // source tree: scripts, payloads
  std::filesystem::path bin_dir;     // built tools
  std::filesystem::path events_dir;  // enforcer event logs (kept in the results directory)
  std::string run_id;
  TargetFactory make_target;
  ModelFactory make_model;
  HostProbe probe_host;
  // Which of `lanes` runners working side by side this is: run names and model directories
  // stay apart.
  int lane = 0;
  int lanes = 1;
};

class MatrixRunner {
 public:
  explicit MatrixRunner(RunnerEnvironment environment);
  ~MatrixRunner();

  // `controls`: the verdicts of the same attack with enforcement off, on this target and on its
  // reference. Throws Interrupted; every other failure becomes the result's verdict.
  CaseResult run(const PlannedRun& planned, const Controls& controls);

 private:
  Target& target_for(const Scenario& scenario, const TargetSpec& spec);
  std::optional<std::string> unavailable(const PlannedRun& planned, Target& target);
  const HostFacts& host_facts();
  std::filesystem::path models_dir() const;
  const ModelArtifacts& model_for(const Scenario& scenario, const CaseSpec& c);
  void execute(const PlannedRun& planned, Target& target, const Controls& controls,
               CaseResult& result);

  RunnerEnvironment env_;
  std::shared_ptr<HostEnforcerPool> host_enforcers_;  // outlives the targets and their sandboxes
  std::map<std::string, std::unique_ptr<Target>> targets_;
  std::map<std::string, ModelArtifacts> models_;
  // A declared model's answers in its off run, per "scenario/case/target": the reference.
  std::map<std::string, std::vector<nlohmann::json>> references_;
  std::optional<HostFacts> host_facts_;
  int runs_ = 0;
};

}  // namespace armorbench
