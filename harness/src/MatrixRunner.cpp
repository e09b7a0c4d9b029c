// The case runner: stages each planned run on its target, measures serving, observes the
// attack's objective and the denials, and scores.
#include "armorbench/harness/MatrixRunner.h"

#include <poll.h>

#include <chrono>

#include "armorbench/base/Interrupt.h"
#include "armorbench/harness/Scoring.h"
#include "armorbench/harness/Workspace.h"
#include "armorbench/workload/OipClient.h"

namespace armorbench {
namespace fs = std::filesystem;
using nlohmann::json;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

namespace {

constexpr milliseconds kRequestTimeout{30'000};
constexpr milliseconds kObservePollInterval{50};

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
  r.attack = run.case_spec->attack_kind();
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

// Enforcer events: counted by action, kept as evidence (the first few decisions in full).
void account_events(const enforcer::EnforcerReport& report, Observation& observation,
                    CaseResult& result) {
  int kept = 0;
  observation.enforcer_events_dropped += static_cast<int>(report.dropped);
  for (const enforcer::EventRecord& event : report.events) {
    if (event.action == enforcer::EventAction::kBlock) ++observation.enforcer_denials;
    if (event.action == enforcer::EventAction::kAudit) ++observation.enforcer_audits;
    if (!event.is_decision()) continue;  // exec watch: an observation, not a decision
    if (kept++ < 20)
      result.evidence.push_back({"enforcer-event",
                                 enforcer::to_string(event.action) + " " +
                                     to_string(event.operation) + " " + event.resource + " by " +
                                     (event.exe.empty() ? event.comm : event.exe) + " (rule " +
                                     (event.rule.empty() ? "-" : event.rule) + ", policy " +
                                     (event.policy.empty() ? "-" : event.policy) + ")",
                                 event.to_json()});
  }
  result.enforcer["events"] = observation.enforcer_denials + observation.enforcer_audits;
  result.enforcer["denials"] = observation.enforcer_denials;
  result.enforcer["audits"] = observation.enforcer_audits;
  result.enforcer["dropped"] = observation.enforcer_events_dropped;
}

}  // namespace

MatrixRunner::MatrixRunner(RunnerEnvironment environment) : env_(std::move(environment)) {}

MatrixRunner::~MatrixRunner() = default;

CaseResult MatrixRunner::run(const PlannedRun& planned, std::optional<Verdict> positive_control) {
  const auto start = Clock::now();
  CaseResult result = skeleton(planned);
  try {
    Target& target = target_for(*planned.scenario, *planned.target);
    if (auto reason = unavailable(planned, target)) {
      result.verdict = Verdict::kNotRun;
      result.reason = *reason;
      result.evidence.push_back({"target", *reason, {{"host", host_facts().to_json()}}});
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

Target& MatrixRunner::target_for(const Scenario& scenario, const TargetSpec& spec) {
  const std::string key = scenario.name + "/" + spec.name;
  auto& slot = targets_[key];
  if (!slot)
    slot = env_.make_target(spec, TargetContext{env_.work_dir, env_.data_dir, env_.bin_dir,
                                                env_.events_dir / scenario.name, env_.run_id});
  return *slot;
}

std::optional<std::string> MatrixRunner::unavailable(const PlannedRun& planned, Target& target) {
  if (auto reason = target.unavailable_reason()) return reason;
  for (const std::string& feature : planned.case_spec->requires_features)
    if (auto missing = host_facts().missing(feature))
      return "requires " + feature + ": " + *missing;
  return std::nullopt;
}

const HostFacts& MatrixRunner::host_facts() {
  if (!host_facts_) host_facts_ = env_.probe_host();
  return *host_facts_;
}

const ModelArtifacts& MatrixRunner::model_for(const CaseSpec& c) {
  std::string key;
  for (int size : c.model.layers) key += std::to_string(size) + "x";
  auto it = models_.find(key);
  if (it == models_.end())
    it = models_
             .emplace(key,
                      env_.make_model(c.model.layers, env_.work_dir / "models" / ("mlp-" + key)))
             .first;
  return it->second;
}

void MatrixRunner::execute(const PlannedRun& planned, Target& target,
                           std::optional<Verdict> positive_control, CaseResult& result) {
  const CaseSpec& c = *planned.case_spec;
  const ModelArtifacts& model = model_for(c);
  std::unique_ptr<attacks::Attack> attack;
  if (c.attack) {
    attack = c.attack->instantiate(attacks::AttackContext{env_.data_dir, env_.bin_dir},
                                   planned.target->limits);
    result.objective = attack->objective();
    if (result.objective.is_null()) result.objective = c.attack->objective();
    json operations = json::array();
    for (const attacks::ExpectedOperation& op : c.attack->expected_operations())
      operations.push_back(op.to_json());
    result.objective["expected_operations"] = operations;
  }

  const std::string run_name = "run-" + std::to_string(++runs_);
  ScopedDirectory run_dir(env_.work_dir / run_name);
  WorkloadSpec workload;
  workload.id = run_name;
  workload.model_dir = model.dir;
  workload.model_file = ModelArtifacts::file_for(c.loader);
  workload.loader = c.loader;
  workload.ready_timeout = c.timeout;
  // Limits are part of the enforcement under test: the positive control runs without them so
  // an attack can show that it would exceed them.
  if (planned.mode != EnforcerMode::kOff)
    workload.limits =
        attack ? attack->enforced_limits(planned.target->limits) : planned.target->limits;

  const EnforcementPlan enforcement{planned.mode, planned.scenario->enforcer.policies,
                                    planned.scenario->enforcer.backend,
                                    planned.scenario->enforcer.default_posture};
  const bool watch_exec = attack && attack->needs_exec_watch();
  if (watch_exec && !target.watches_exec())
    throw unsupported_error("target " + planned.target->name + " cannot observe exec objectives");

  // The model file must be trojaned before the sandbox starts: the target says how its
  // sandboxes reach the harness's listeners.
  Observation observation;
  if (attack) attack->prepare(model, run_dir.path(), target.host_address(), workload);
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

  attacks::ObjectiveStatus objective;
  if (attack) {
    attack->while_serving(*sandbox);
    const auto deadline = Clock::now() + c.settle;
    for (;;) {
      objective = attack->observe(*sandbox);
      if (objective.reached || Clock::now() >= deadline) break;
      pollfd none{-1, 0, 0};
      poll_interruptible(&none, 1, kObservePollInterval);
    }
  }
  const SandboxFinal final =
      sandbox->stop(attack ? attack->sandbox_files() : std::vector<std::string>{});
  if (attack && !objective.reached) objective = attack->observe(*sandbox);

  const SandboxInfo& info = sandbox->info();
  result.enforcer["backend"] = info.enforcer_backend;
  result.enforcer["location"] = info.enforcer_location;
  result.enforcer["runtime"] = info.runtime;
  account_events(sandbox->enforcer_report(), observation, result);
  result.timings.update(sandbox->timings());

  observation.objective_reached = objective.reached;
  observation.objective_detail = objective.detail;
  for (Evidence& e : objective.evidence) result.evidence.push_back(std::move(e));
  if (attack) observation.kernel_denials = attack->kernel_denials(final.cgroup);
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

}  // namespace armorbench
