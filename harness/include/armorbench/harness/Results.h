// Canonical, machine-readable results (results.json schema 1, README "Results"): every case run
// with its verdict and evidence, summaries per target and enforcer mode, gates, host facts.
// Reports (JUnit, Markdown) are rendered from these structs; nothing else is the source of truth.
#pragma once

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "armorbench/base/Error.h"
#include "armorbench/harness/Scenario.h"
#include "armorbench/harness/Scoring.h"
#include "armorbench/harness/Statistics.h"

namespace armorbench {

inline constexpr int kResultsSchema = 1;

// A distribution of per-request latencies (client side, microseconds), raw samples kept.
struct LatencyStats {
  std::size_t count = 0;
  double min_us = 0, p50_us = 0, p95_us = 0, p99_us = 0, max_us = 0, mean_us = 0, stddev_us = 0;
  std::vector<double> samples_us;

  static LatencyStats from_samples(std::vector<double> samples_us);
  nlohmann::json to_json() const;
};

struct CaseResult {
  std::string scenario;
  std::string scenario_file;
  SourceLocation where;  // the case in its scenario file
  std::string case_name;
  std::string target;
  std::string target_kind;
  EnforcerMode mode = EnforcerMode::kOff;
  std::string role;          // benign | positive-control | enforced
  std::string attack;        // the attack kind ("pickle-injection", ...), "" for a benign case
  nlohmann::json objective;  // null for benign cases
  Verdict verdict = Verdict::kError;
  std::string reason;
  Verdict expected = Verdict::kAllowed;
  std::vector<Evidence> evidence;
  nlohmann::json timings = nlohmann::json::object();
  std::optional<LatencyStats> latency;
  nlohmann::json enforcer = nlohmann::json::object();  // backend, location, events, dropped
  // Attack cases: the operations the verdict rests on (expected, attributed, unattributed).
  nlohmann::json attribution;
  bool enforcer_recorded = false;       // an attributed denial or record is the enforcer's own
  std::optional<Availability> service;  // attack cases: the model server after the attack
  bool optional_target = false;         // not-run is expected where the target is optional
  double duration_s = 0;

  // Whether the verdict meets the expectation. not-run is neither pass nor fail (skipped).
  bool passed() const { return verdict == expected; }
  std::string id() const;  // "scenario/case[target/mode]"
  nlohmann::json to_json() const;
  // The inverse of to_json (merging shards). Throws an input Error on a malformed record.
  static CaseResult from_json(const nlohmann::json& json);
};

struct ModeSummary {
  std::string target;
  EnforcerMode mode = EnforcerMode::kOff;
  int attacks = 0, blocked = 0, detected = 0, reached = 0, prevented = 0, invalid = 0;
  int blocked_service_kept = 0, blocked_service_lost = 0;
  int benign = 0, allowed = 0, disrupted = 0;
  int not_run = 0, errors = 0;
  // Rates over valid cases only; nullopt when there is nothing to divide by. `prevented` (the
  // target's isolation, not enforcement) is outside every rate.
  std::optional<double> block_rate;  // block mode: blocked / (blocked + reached + detected)
  // audit mode: runs the enforcer recorded (detected, or blocked by the kernel with a matching
  // enforcer record) / (blocked + detected + reached)
  std::optional<double> detection_rate;
  std::optional<double> false_positive_rate;  // disrupted / (allowed + disrupted)

  nlohmann::json to_json() const;
};

std::vector<ModeSummary> summarize(const std::vector<CaseResult>& cases);

// Benign inference latency of a target in a mode, as a ratio to what it is judged against: the
// same target with the enforcer off, or (same mode) the scenario's first target. Strata are the
// benign cases both sides ran; intervals are bootstrap 95% (Statistics.h).
struct OverheadFigure {
  std::string scenario;
  std::string target;
  EnforcerMode mode = EnforcerMode::kOff;
  std::string against;                                 // "off", or "target NAME"
  std::vector<std::pair<Statistic, Interval>> ratios;  // p50, p95, p99, mean
  int cases = 0;
  std::size_t samples = 0, control_samples = 0;
  nlohmann::json
      timings;  // medians over the target's benign runs in this mode: model load, ready, boot

  const Interval* ratio(Statistic statistic) const;
  nlohmann::json to_json() const;
};

std::vector<OverheadFigure> overhead_figures(const std::vector<CaseResult>& cases,
                                             const BootstrapOptions& options = {});

// Where a run's time went, for the case runs of one target kind ("all": every run). Phases are
// disjoint spans of each case run on the runner's clock; the harness's own share is everything
// but the model server's start, the requests and the attack (prepare, launch with the runtime's
// create and the enforcer's load, stop, and the rest: scoring, evidence, clean-up).
struct TimeBreakdown {
  struct Phase {
    std::string name;  // prepare, launch, server-start, requests, attack, stop, other
    bool harness = false;
    double seconds = 0;
  };
  std::string target_kind;
  int runs = 0;
  double seconds = 0;       // sum of the runs' durations
  double median_run_s = 0;  // median run duration
  std::vector<Phase> phases;
  double harness_share = 0;  // of `seconds`
  int enforcer_loads = 0;    // runs that loaded the host enforcer (the others reused it)
  double enforcer_load_s = 0;

  nlohmann::json to_json() const;
};

std::vector<TimeBreakdown> time_breakdown(const std::vector<CaseResult>& cases);

struct GateResult {
  std::string scenario;
  std::string gate;  // e.g. min_block_rate[runc], expectations
  bool passed = true;
  bool evaluated = true;  // false: declared, but there was nothing to judge (exit 3)
  std::string detail;
  // A ratio gate whose interval straddles its threshold; `passed` is what on_inconclusive said.
  bool inconclusive = false;
  nlohmann::json to_json() const;
};

// Thresholds from each scenario's [gate], judged per target, plus every case's expectation.
std::vector<GateResult> evaluate_gates(const std::vector<Scenario>& scenarios,
                                       const std::vector<CaseResult>& cases);

// The run's exit code: 2 when a case errored, 1 when a gate failed, 3 when a gate could not be
// evaluated (or nothing ran), else 0.
ExitCode run_exit_code(const std::vector<CaseResult>& cases, const std::vector<GateResult>& gates);

struct RunResults {
  nlohmann::json run;   // id, started, finished, argv, tool version
  nlohmann::json host;  // kernel, runtimes, enforcer backends
  std::vector<nlohmann::json> scenarios;
  std::vector<CaseResult> cases;
  std::vector<ModeSummary> summary;
  std::vector<OverheadFigure> overhead;
  std::vector<TimeBreakdown> time;
  std::vector<GateResult> gates;
  ExitCode exit_code = ExitCode::kOk;

  nlohmann::json to_json() const;
};

// results.jsonl: one line per finished case, flushed as it finishes, so a crash loses nothing
// that finished.
class CaseLog {
 public:
  explicit CaseLog(const std::filesystem::path& file);
  void append(const CaseResult& result);

 private:
  std::ofstream out_;
};

// Writes `content` to `file` through a temporary file and rename, so a reader never sees a
// half-written file.
void write_file_atomically(const std::filesystem::path& file, const std::string& content);

}  // namespace armorbench
