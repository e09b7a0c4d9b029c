// Runs the case matrix: every case x target x enforcer mode of the scenarios, positive control
// first for attacks, and turns what each run observed into CaseResults.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "armorbench/harness/Doctor.h"
#include "armorbench/harness/MatrixRunner.h"
#include "armorbench/harness/Results.h"
#include "armorbench/harness/Scenario.h"
#include "armorbench/harness/StaleRuns.h"

namespace armorbench {

struct RunOptions {
  std::filesystem::path out_dir;
  std::optional<std::string> filter;  // glob on "case" or "scenario/case"
  std::optional<std::string> target;  // only targets with this name
  std::filesystem::path data_dir;
  std::filesystem::path bin_dir;
  bool keep_work = false;
  std::filesystem::path lease_dir = kDefaultLeaseDir;  // StaleRuns.h
  // The seams a unit test replaces: which targets exist, how a case's model is made (default:
  // the generator in data_dir) and what the host offers.
  TargetFactory make_target = armorbench::make_target;
  ModelFactory make_model;
  HostProbe probe_host = [] { return armorbench::probe_host(HostProbeOptions{}); };
};

// The matrix in execution order: per case and target, the positive control (off) first.
std::vector<PlannedRun> plan_runs(const std::vector<Scenario>& scenarios,
                                  const std::optional<std::string>& filter,
                                  const std::optional<std::string>& target);

// Shell-style glob match of `text` against `pattern` (*, ?, [...]).
bool glob_match(const std::string& pattern, const std::string& text);

// Progress of a run, for the CLI to display.
struct ProgressSink {
  std::function<void(std::size_t index, std::size_t total, const PlannedRun& run)> started;
  std::function<void(std::size_t index, std::size_t total, const CaseResult& result)> finished;
};

// Runs everything, streaming each finished case to out_dir/results.jsonl.
RunResults run_matrix(const std::vector<Scenario>& scenarios, const RunOptions& options,
                      const ProgressSink& progress);

}  // namespace armorbench
