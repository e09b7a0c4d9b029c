// The case-matrix runner: plans runs, stages each on its target, measures serving, observes the
// attack's objective and the denials, scores, and streams results.
#include "armorbench/harness/Orchestrator.h"

#include <fnmatch.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <fstream>
#include <map>

#include "armorbench/base/Interrupt.h"
#include "armorbench/harness/AttackPlan.h"
#include "armorbench/harness/Doctor.h"
#include "armorbench/harness/ModelArtifacts.h"
#include "armorbench/harness/OipClient.h"
#include "armorbench/harness/StaleRuns.h"
#include "armorbench/harness/Target.h"
#include "armorbench/harness/Workspace.h"

namespace armorbench {
namespace fs = std::filesystem;
using nlohmann::json;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

namespace {

constexpr milliseconds kRequestTimeout{30'000};
constexpr milliseconds kObservePollInterval{50};

std::string iso_time_now() {
  const std::time_t now = std::time(nullptr);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return text;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string case_role(const CaseSpec& c, EnforcerMode mode) {
  if (!c.is_attack()) return "benign";
  return mode == EnforcerMode::kOff ? "positive-control" : "enforced";
}

CaseResult skeleton(const PlannedRun& run) {
  CaseResult r;
  r.scenario = run.scenario->name;
  r.scenario_file = run.scenario->file.string();
  r.where = run.case_spec->where;
  r.case_name = run.case_spec->name;
  r.target = run.target->name;
  r.target_kind = to_string(run.target->kind);
  r.mode = run.mode;
  r.role = case_role(*run.case_spec, run.mode);
  r.attack = run.case_spec->attack.kind;
  r.expected = expected_verdict(*run.case_spec, run.mode);
  return r;
}

// Sends warm-up and measured requests and checks every answer against the expected outputs.
void measure_serving(Sandbox& sandbox, const CaseSpec& c, const ModelArtifacts& model,
                     Observation& observation, CaseResult& result) {
  std::vector<double> samples_us;
  try {
    OipClient client(sandbox.connect_inference(), kRequestTimeout);
    if (!client.ready()) {
      observation.serve_failure = "/v2/health/ready did not answer 200";
      return;
    }
    const int total = c.warmup + c.requests;
    for (int i = 0; i < total; ++i) {
      check_interrupted();
      const std::size_t sample = static_cast<std::size_t>(i) % model.inputs.size();
      const auto start = Clock::now();
      const std::vector<float> output = client.infer(model.name, model.inputs[sample]);
      const double us = std::chrono::duration<double, std::micro>(Clock::now() - start).count();
      if (i < c.warmup) continue;  // warm-up answers are checked by the next ones, not timed
      ++observation.requests_sent;
      if (model.matches(output, model.outputs[sample])) {
        ++observation.requests_correct;
      } else if (observation.serve_failure.empty()) {
        observation.serve_failure = "wrong answer for input " + std::to_string(sample);
      }
      samples_us.push_back(us);
    }
  } catch (const Error& e) {
    observation.serve_failure = e.what();
    ++observation.requests_sent;  // the failed request counts as sent and not correct
  }
  result.latency = LatencyStats::from_samples(std::move(samples_us));
  result.evidence.push_back(
      {"inference",
       std::to_string(observation.requests_correct) + "/" +
           std::to_string(observation.requests_sent) + " answers correct (OIP v2 over HTTP/1.1, " +
           "one persistent connection)" +
           (observation.serve_failure.empty() ? "" : "; " + observation.serve_failure),
       {{"requests", observation.requests_sent},
        {"correct", observation.requests_correct},
        {"warmup", c.warmup},
        {"latency_method", "client-side wall time per request over one keep-alive connection"}}});
}

// Enforcer events: counted by action, kept as evidence (the first few in full).
void account_events(const std::vector<json>& events, Observation& observation, CaseResult& result) {
  int kept = 0;
  for (const json& event : events) {
    if (event.value("kind", "") == "dropped") {
      observation.enforcer_events_dropped += event.value("count", 0);
      continue;
    }
    const std::string action = event.value("action", "");
    if (action == "block") ++observation.enforcer_denials;
    if (action == "audit") ++observation.enforcer_audits;
    if (action == "observe") continue;  // exec watch, not a decision
    if (kept++ < 20)
      result.evidence.push_back(
          {"enforcer-event",
           action + " " + event.value("operation", "?") + " " + event.value("resource", "") +
               " by " + event.value("exe", event.value("comm", "?")) + " (rule " +
               event.value("rule", "-") + ", policy " + event.value("policy", "-") + ")",
           event});
  }
  result.enforcer["events"] = observation.enforcer_denials + observation.enforcer_audits;
  result.enforcer["denials"] = observation.enforcer_denials;
  result.enforcer["audits"] = observation.enforcer_audits;
  result.enforcer["dropped"] = observation.enforcer_events_dropped;
}

class MatrixRunner {
 public:
  MatrixRunner(const RunOptions& options, fs::path work_dir, std::string run_id)
      : options_(options), work_dir_(std::move(work_dir)), run_id_(std::move(run_id)) {}

  CaseResult run(const PlannedRun& planned, std::optional<Verdict> positive_control) {
    const auto start = Clock::now();
    CaseResult result = skeleton(planned);
    try {
      Target& target = target_for(*planned.scenario, *planned.target);
      if (auto reason = unavailable(planned, target)) {
        result.verdict = Verdict::kNotRun;
        result.reason = *reason;
        result.evidence.push_back({"target", *reason, {{"host", host_summary()}}});
      } else {
        execute(planned, target, positive_control, result);
      }
    } catch (const Interrupted&) {
      throw;
    } catch (const Error& e) {
      // What the host or target cannot do (a backend, a method): not run, with the reason, never
      // passed. Anything else that failed (a guest that never booted) is an error.
      result.verdict = e.kind() == ErrorKind::kUnsupported ? Verdict::kNotRun : Verdict::kError;
      result.reason = e.describe();
    } catch (const std::exception& e) {
      result.verdict = Verdict::kError;
      result.reason = std::string("harness fault: ") + e.what();
    }
    result.duration_s = seconds_since(start);
    return result;
  }

 private:
  Target& target_for(const Scenario& scenario, const TargetSpec& spec) {
    const std::string key = scenario.name + "/" + spec.name;
    auto& slot = targets_[key];
    if (!slot)
      slot = make_target(spec, TargetContext{work_dir_, options_.data_dir, options_.bin_dir,
                                             options_.out_dir / "events" / scenario.name, run_id_});
    return *slot;
  }

  std::optional<std::string> unavailable(const PlannedRun& planned, Target& target) {
    if (auto reason = target.unavailable_reason()) return reason;
    for (const std::string& feature : planned.case_spec->requires_features)
      if (auto missing = missing_feature(feature)) return "requires " + feature + ": " + *missing;
    return std::nullopt;
  }

  std::optional<std::string> missing_feature(const std::string& feature) {
    if (!host_facts_) host_facts_ = probe_host(HostProbeOptions{});
    return host_facts_->missing(feature);
  }

  json host_summary() {
    if (!host_facts_) host_facts_ = probe_host(HostProbeOptions{});
    return host_facts_->to_json();
  }

  const ModelArtifacts& model_for(const CaseSpec& c) {
    std::string key;
    for (int size : c.model.layers) key += std::to_string(size) + "x";
    auto it = models_.find(key);
    if (it == models_.end())
      it = models_
               .emplace(key, generate_model(options_.data_dir,
                                            work_dir_ / "models" / ("mlp-" + key), c.model))
               .first;
    return it->second;
  }

  void execute(const PlannedRun& planned, Target& target, std::optional<Verdict> positive_control,
               CaseResult& result) {
    const CaseSpec& c = *planned.case_spec;
    const ModelArtifacts& model = model_for(c);
    std::unique_ptr<AttackPlan> attack =
        make_attack_plan(c, *planned.target, AttackContext{options_.data_dir, options_.bin_dir});
    result.objective = attack->objective();

    const std::string run_name = "run-" + std::to_string(++runs_);
    ScopedDirectory run_dir(work_dir_ / run_name);
    WorkloadSpec workload;
    workload.id = run_name;
    workload.model_dir = model.dir;
    workload.model_file = ModelArtifacts::file_for(c.loader);
    workload.loader = c.loader;
    workload.ready_timeout = c.timeout;
    // Limits are part of the enforcement under test: the positive control runs without them so
    // an attack can show that it would exceed them.
    if (planned.mode != EnforcerMode::kOff)
      workload.limits = attack->enforced_limits(planned.target->limits);
    const std::string host_address =
        planned.target->kind == TargetKind::kKata || planned.target->kind == TargetKind::kCvm
            ? "10.0.2.2"
            : "127.0.0.1";
    attack->prepare(model, run_dir.path(), host_address, workload);

    EnforcementPlan enforcement{planned.mode, planned.scenario->enforcer.policies,
                                planned.scenario->enforcer.backend,
                                planned.scenario->enforcer.default_posture};
    const bool watch_exec = attack->needs_exec_watch();
    if (watch_exec && !target.watches_exec())
      throw unsupported_error("target " + planned.target->name + " cannot observe exec objectives");

    Observation observation;
    std::unique_ptr<Sandbox> sandbox = target.launch(workload, enforcement, watch_exec);
    const ReadyResult ready = sandbox->wait_ready();
    observation.server_ready = ready.ready;
    result.timings["ready_ms"] = ready.elapsed.count();
    if (ready.ready_message.contains("load_ms"))
      result.timings["model_load_ms"] = ready.ready_message["load_ms"];
    result.evidence.push_back(
        {"server", ready.ready ? "model server ready" : "model server not ready: " + ready.failure,
         ready.ready_message.is_null() ? json::object() : ready.ready_message});
    if (!ready.ready) observation.serve_failure = ready.failure;
    if (ready.ready) measure_serving(*sandbox, c, model, observation, result);

    attack->while_serving(*sandbox);
    ObjectiveStatus objective;
    if (c.is_attack()) {
      const auto deadline = Clock::now() + c.settle;
      for (;;) {
        objective = attack->observe(*sandbox);
        if (objective.reached || Clock::now() >= deadline) break;
        pollfd none{-1, 0, 0};
        poll_interruptible(&none, 1, kObservePollInterval);
      }
    }
    const SandboxFinal final = sandbox->stop();
    if (c.is_attack() && !objective.reached) objective = attack->observe(*sandbox);

    const SandboxInfo& info = sandbox->info();
    result.enforcer["backend"] = info.enforcer_backend;
    result.enforcer["location"] = info.enforcer_location;
    result.enforcer["runtime"] = info.runtime;
    account_events(sandbox->enforcer_events(), observation, result);
    result.timings.update(sandbox->timings());

    observation.objective_reached = objective.reached;
    observation.objective_detail = objective.detail;
    for (Evidence& e : objective.evidence) result.evidence.push_back(std::move(e));
    observation.kernel_denials = attack->kernel_denials(final);
    for (const std::string& denial : observation.kernel_denials)
      result.evidence.push_back({"kernel", denial, final.cgroup.to_json()});
    json workload_json = {
        {"cgroup", final.cgroup.to_json()},
        {"exit", final.workload_exit ? final.workload_exit->describe() : "running"}};
    if (!final.server_log.empty()) workload_json["server_log_tail"] = final.server_log;
    result.evidence.push_back(
        {"target", "workload " + workload_json["exit"].get<std::string>(), workload_json});
    if (c.is_attack() && planned.mode != EnforcerMode::kOff)
      result.evidence.push_back(
          {"control", "positive control (same attack, enforcement off): " +
                          (positive_control ? to_string(*positive_control) : "not run")});

    const Score score = score_case(c, planned.mode, observation, positive_control);
    result.verdict = score.verdict;
    result.reason = score.reason;
  }

  const RunOptions& options_;
  fs::path work_dir_;
  std::string run_id_;
  std::map<std::string, std::unique_ptr<Target>> targets_;
  std::map<std::string, ModelArtifacts> models_;
  std::optional<HostFacts> host_facts_;
  int runs_ = 0;
};

}  // namespace

bool glob_match(const std::string& pattern, const std::string& text) {
  return ::fnmatch(pattern.c_str(), text.c_str(), 0) == 0;
}

std::vector<PlannedRun> plan_runs(const std::vector<Scenario>& scenarios,
                                  const std::optional<std::string>& filter,
                                  const std::optional<std::string>& target) {
  std::vector<PlannedRun> runs;
  for (const Scenario& scenario : scenarios) {
    for (const CaseSpec& c : scenario.cases) {
      if (filter && !glob_match(*filter, c.name) &&
          !glob_match(*filter, scenario.name + "/" + c.name))
        continue;
      for (const TargetSpec& t : scenario.targets) {
        if (target && t.name != *target) continue;
        std::vector<EnforcerMode> modes = scenario.enforcer.modes;
        const bool lists_off =
            std::find(modes.begin(), modes.end(), EnforcerMode::kOff) != modes.end();
        std::stable_sort(modes.begin(), modes.end());  // off, audit, block
        if (c.is_attack() && !lists_off)
          runs.push_back({&scenario, &c, &t, EnforcerMode::kOff, true});
        for (EnforcerMode mode : modes) runs.push_back({&scenario, &c, &t, mode, false});
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
  results.host = probe_host(HostProbeOptions{}).to_json();

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

  MatrixRunner runner(options, work.path(), run_id);
  std::map<std::string, Verdict> controls;  // "scenario/case/target" -> positive-control verdict
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const PlannedRun& planned = runs[i];
    if (progress.started) progress.started(i, runs.size(), planned);
    const std::string control_key =
        planned.scenario->name + "/" + planned.case_spec->name + "/" + planned.target->name;
    std::optional<Verdict> control;
    if (auto it = controls.find(control_key); it != controls.end()) control = it->second;
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
