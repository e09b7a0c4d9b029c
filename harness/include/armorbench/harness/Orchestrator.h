// Runs the case matrix: every case x target x enforcer mode of the scenarios, positive control
// first for attacks, and turns what each run observed into CaseResults.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "armorbench/harness/Doctor.h"
#include "armorbench/harness/MatrixRunner.h"
#include "armorbench/harness/Results.h"
#include "armorbench/harness/Scenario.h"
#include "armorbench/harness/StaleRuns.h"

namespace armorbench {

// A slice of the case matrix for one of `count` CI runners (1-based `index`).
struct Shard {
  int index = 1;
  int count = 1;
};

// Parses "I/N" (1 <= I <= N); an input Error otherwise.
Shard parse_shard(const std::string& text);

struct RunOptions {
  std::filesystem::path out_dir;
  std::optional<Shard> shard;
  std::vector<std::string> gate_overrides;  // recorded in results.json (applied by the caller)
  std::optional<std::string> filter;        // glob on "case" or "scenario/case"
  std::optional<std::string> target;        // only targets with this name
  std::filesystem::path data_dir;
  std::filesystem::path bin_dir;
  bool keep_work = false;
  // Case runs at once. Runs on targets that share the host kernel's state (containers: one host
  // enforcer rule set, the kernel log's seccomp records) go one at a time in one lane; VM targets
  // (their own kernel) in a second lane beside it when jobs >= 2. A container run with a seccomp
  // profile runs alone (its kernel-log records are attributed by time for exited processes).
  int jobs = 1;
  // Continue the run whose --out is out_dir: keep the case runs its results.jsonl holds, run the
  // rest. Input Error when out_dir's run.json asked for another run (other scenario or policy
  // bytes, filter, target or shard).
  bool resume = false;
  std::filesystem::path lease_dir = kDefaultLeaseDir;  // StaleRuns.h
  // The seams a unit test replaces: which targets exist, how a case's model is made (default:
  // the generator in data_dir) and what the host offers.
  TargetFactory make_target = armorbench::make_target;
  ModelFactory make_model;
  HostProbe probe_host = [] { return armorbench::probe_host(HostProbeOptions{}); };
};

// The matrix in plan (and results) order: per case and target, the positive control (off) first.
std::vector<PlannedRun> plan_runs(const std::vector<Scenario>& scenarios,
                                  const std::optional<std::string>& filter,
                                  const std::optional<std::string>& target);

// The order to execute `runs` in (indices into it): the runs of reference-only targets first (the
// controls a VM lane waits for), then per scenario, target by target (references first), and per
// target every off run, then every audit run, then every block run. Each case's
// controls still come before its enforced runs, and the host enforcer is loaded once per target
// and mode change instead of once per run (results are reported in plan order regardless).
std::vector<std::size_t> execution_order(const std::vector<PlannedRun>& runs);

// The lane a run goes to with `lanes` lanes: 0 for containers, 1 for VMs when lanes >= 2.
int lane_of(const PlannedRun& run, int lanes);

// The runs of shard `shard`: whole cases (every target and mode of a scenario's case, with its
// positive and reference controls, which its verdicts need), dealt round-robin in plan order.
// Every run is in exactly one shard.
std::vector<PlannedRun> shard_runs(const std::vector<PlannedRun>& runs, Shard shard);

// The shards' results.json documents as one run: cases in the order an unsharded run has them
// (`scenarios` are the run's scenario files, loaded again), summaries, overhead and gates
// recomputed. Input Error when the documents are not every shard of one run exactly once.
// The checks merge_shards makes before reading any case (every shard exactly once, one split, the
// same scenarios, filter and target).
void check_shards(const std::vector<nlohmann::json>& shards);
RunResults merge_shards(const std::vector<nlohmann::json>& shards,
                        const std::vector<Scenario>& scenarios);

// Shell-style glob match of `text` against `pattern` (*, ?, [...]).
bool glob_match(const std::string& pattern, const std::string& text);

// Progress of a run, for the CLI to display.
struct ProgressSink {
  std::function<void(std::size_t index, std::size_t total, const PlannedRun& run)> started;
  std::function<void(std::size_t index, std::size_t total, const CaseResult& result)> finished;
};

// What a run was asked to do (its scenario and policy files by digest, filter, target, shard):
// written to out_dir/run.json when it starts, compared by --resume.
nlohmann::json run_request(const std::vector<Scenario>& scenarios, const RunOptions& options);

// The finished case runs of an earlier run in `out_dir` that asked for `request`, by
// CaseResult::id(), the last line of a run winning; a last line cut short by a crash is ignored
// (and counted). Input Error (file:line for a bad line) otherwise.
struct ResumedRuns {
  std::string run_id;  // the earlier run's
  std::map<std::string, CaseResult> by_id;
  int partial_lines = 0;
  std::uintmax_t valid_bytes = 0;  // results.jsonl up to the end of its last whole line
};
ResumedRuns read_resumed_runs(const std::filesystem::path& out_dir, const nlohmann::json& request);

// Runs everything, streaming each finished case to out_dir/results.jsonl.
RunResults run_matrix(const std::vector<Scenario>& scenarios, const RunOptions& options,
                      const ProgressSink& progress);

}  // namespace armorbench
