// The case matrix: plans runs (positive controls first), hands each to the MatrixRunner, and
// streams the results.
#include "armorbench/harness/Orchestrator.h"

#include <fnmatch.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <fstream>
#include <map>
#include <set>

#include "armorbench/base/Hex.h"
#include "armorbench/harness/Doctor.h"
#include "armorbench/harness/MatrixRunner.h"
#include "armorbench/harness/StaleRuns.h"
#include "armorbench/harness/Workspace.h"

namespace armorbench {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string iso_time_now() {
  const std::time_t now = std::time(nullptr);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return text;
}

}  // namespace

bool glob_match(const std::string& pattern, const std::string& text) {
  return ::fnmatch(pattern.c_str(), text.c_str(), 0) == 0;
}

namespace {

// The scenario's targets with every reference before the targets judged against it.
std::vector<const TargetSpec*> reference_order(const Scenario& scenario) {
  std::vector<const TargetSpec*> order;
  const auto add = [&](const TargetSpec& target, auto&& self) -> void {
    if (std::find(order.begin(), order.end(), &target) != order.end()) return;
    if (const TargetSpec* reference = reference_of(scenario, target)) self(*reference, self);
    order.push_back(&target);
  };
  for (const TargetSpec& t : scenario.targets) add(t, add);
  return order;
}

}  // namespace

std::vector<PlannedRun> plan_runs(const std::vector<Scenario>& scenarios,
                                  const std::optional<std::string>& filter,
                                  const std::optional<std::string>& target) {
  std::vector<PlannedRun> runs;
  for (const Scenario& scenario : scenarios) {
    const std::vector<const TargetSpec*> order = reference_order(scenario);
    // Targets whose off runs the selected targets' isolation verdicts need.
    std::set<std::string> references;
    for (const TargetSpec* t : order) {
      if (t->reference_only || (target && t->name != *target)) continue;
      for (const TargetSpec* r = reference_of(scenario, *t); r; r = reference_of(scenario, *r))
        references.insert(r->name);
    }
    for (const CaseSpec& c : scenario.cases) {
      if (filter && !glob_match(*filter, c.name) &&
          !glob_match(*filter, scenario.name + "/" + c.name))
        continue;
      for (const TargetSpec* t : order) {
        const TargetSpec* reference = reference_of(scenario, *t);
        const bool selected = !t->reference_only && (!target || t->name == *target);
        if (!selected) {
          // A resource attack measures the limit, not isolation: no reference control.
          if (c.is_attack() && !c.attack->required_limit() && references.count(t->name))
            runs.push_back({&scenario, &c, t, EnforcerMode::kOff, true, reference});
          continue;
        }
        std::vector<EnforcerMode> modes = scenario.enforcer.modes;
        const bool lists_off =
            std::find(modes.begin(), modes.end(), EnforcerMode::kOff) != modes.end();
        std::stable_sort(modes.begin(), modes.end());  // off, audit, block
        // An attack's positive control, and a declared model's reference answers, come from
        // an off run even where the scenario lists no off mode.
        if ((c.is_attack() || c.model.declared) && !lists_off)
          runs.push_back({&scenario, &c, t, EnforcerMode::kOff, true, reference});
        for (EnforcerMode mode : modes) runs.push_back({&scenario, &c, t, mode, false, reference});
      }
    }
  }
  return runs;
}

RunResults run_matrix(const std::vector<Scenario>& scenarios, const RunOptions& options,
                      const ProgressSink& progress) {
  const std::vector<PlannedRun> runs = plan_runs(scenarios, options.filter, options.target);
  if (runs.empty()) throw input_error("no case matches the filter and target given");

  RunResults results;
  const std::string run_id = random_hex(4);
  results.run = {{"id", run_id},
                 {"started", iso_time_now()},
                 {"tool", {{"name", "armorbench"}, {"version", ARMORBENCH_VERSION}}}};
  for (const Scenario& s : scenarios)
    results.scenarios.push_back({{"name", s.name},
                                 {"file", s.file.string()},
                                 {"description", s.description},
                                 {"controls", s.controls},
                                 {"policies", [&] {
                                    json p = json::array();
                                    for (const auto& policy : s.enforcer.policies)
                                      p.push_back(policy.string());
                                    return p;
                                  }()}});
  const HostFacts host = options.probe_host();
  results.host = host.to_json();

  fs::create_directories(options.out_dir);
  // A fresh results.jsonl per run: it is the crash-safe record of this run only.
  std::error_code ec;
  fs::remove(options.out_dir / "results.jsonl", ec);
  CaseLog log(options.out_dir / "results.jsonl");

  // Container inits outlive `runc create`; as subreaper the harness can reap them and read the
  // status they died with (a SIGKILL from the enforcer is evidence).
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  // The lease comes before any resource named after the run id: `armorbench clean` (and the
  // next run) remove the resources of run ids without a live lease. Root only: without root
  // no container, mount or cgroup can be made, and the work dir is removed by its owner.
  std::optional<RunLease> lease;
  if (::geteuid() == 0) lease.emplace(options.lease_dir, run_id);
  // Not /tmp (nor $TMPDIR, often /tmp): a VM guest sees the host root over 9p but has its own
  // /tmp, and the work dir holds the models and files the guest loads.
  ScopedDirectory work(work_base() / ("armorbench-" + run_id));
  if (options.keep_work) {
    work.keep();
    std::ofstream(work.path() / kKeepMarker) << "kept by --keep-work; remove by hand\n";
  }

  MatrixRunner runner(RunnerEnvironment{
      work.path(), options.data_dir, options.bin_dir, options.out_dir / "events", run_id,
      options.make_target,
      options.make_model ? options.make_model
                         : ModelFactory([data_dir = options.data_dir](
                                            const std::vector<int>& layers, const fs::path& dir) {
                             return generate_model(data_dir, dir, layers);
                           }),
      [host] { return host; }});
  std::map<std::string, Verdict> controls;  // "scenario/case/target" -> positive-control verdict
  const auto control_of = [&](const PlannedRun& run,
                              const TargetSpec* target) -> std::optional<Verdict> {
    if (!target) return std::nullopt;
    const auto it =
        controls.find(run.scenario->name + "/" + run.case_spec->name + "/" + target->name);
    return it == controls.end() ? std::nullopt : std::optional<Verdict>(it->second);
  };
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const PlannedRun& planned = runs[i];
    if (progress.started) progress.started(i, runs.size(), planned);
    const std::string control_key =
        planned.scenario->name + "/" + planned.case_spec->name + "/" + planned.target->name;
    Controls control;
    if (planned.mode != EnforcerMode::kOff)
      control.same_target = control_of(planned, planned.target);
    if (planned.reference) {
      control.reference = control_of(planned, planned.reference);
      control.reference_target = planned.reference->name;
    }
    CaseResult result = runner.run(planned, control);
    if (planned.mode == EnforcerMode::kOff && planned.case_spec->is_attack())
      controls[control_key] = result.verdict;
    log.append(result);
    if (progress.finished) progress.finished(i, runs.size(), result);
    results.cases.push_back(std::move(result));  // implicit controls too: they are evidence
  }
  results.summary = summarize(results.cases);
  results.gates = evaluate_gates(scenarios, results.cases);
  results.exit_code = run_exit_code(results.cases, results.gates);
  results.run["finished"] = iso_time_now();
  return results;
}

}  // namespace armorbench
