// The case runner: stages each planned run on its target, measures serving, observes the
// attack's objective and the denials, and scores.
#include "armorbench/harness/MatrixRunner.h"

#include <poll.h>

#include <chrono>

#include "armorbench/base/Files.h"
#include "armorbench/base/Interrupt.h"
#include "armorbench/harness/HostEnforcer.h"
#include "armorbench/harness/Scoring.h"
#include "armorbench/harness/Workspace.h"
#include "armorbench/workload/OipClient.h"

namespace armorbench {
namespace fs = std::filesystem;
using nlohmann::json;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

namespace {

constexpr milliseconds kObservePollInterval{50};

json limits_json(const ResourceLimits& limits) {
  json j = json::object();
  if (limits.cpus) j["cpus"] = *limits.cpus;
  if (limits.memory_bytes) j["memory_bytes"] = *limits.memory_bytes;
  if (limits.pids) j["pids"] = *limits.pids;
  return j;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string case_role(const PlannedRun& run) {
  if (!run.case_spec->is_attack()) return "benign";
  if (run.target->reference_only) return "reference-control";
  return run.mode == EnforcerMode::kOff ? "positive-control" : "enforced";
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
  r.role = case_role(run);
  r.attack = run.case_spec->attack_kind();
  r.expected = expected_verdict(*run.case_spec, run.mode, run.target->name);
  r.optional_target = run.target->optional;
  return r;
}

// One request of sample `sample` and whether its answer is right: the generator's expected
// outputs for the generated model; for a declared model the reference answers (the off run's),
// or, in the off run itself, the first answer to the same input (the model is deterministic).
bool ask(OipClient& client, const ModelArtifacts& model, std::size_t sample,
         std::vector<json>& answers, bool have_reference, std::string* why) {
  if (!model.uses_tensors()) {
    const bool ok =
        model.matches(client.infer(model.name, model.inputs[sample]), model.outputs[sample]);
    if (!ok) *why = "wrong answer";
    return ok;
  }
  json outputs = client.infer_tensors(model.name, model.requests[sample]);
  if (answers[sample].is_null() && !have_reference) {
    answers[sample] = std::move(outputs);
    return true;
  }
  const bool ok = outputs_match(outputs, answers[sample], model.tolerance, why);
  if (!ok)
    *why = (have_reference ? "differs from the off run's answer: " : "not deterministic: ") + *why;
  return ok;
}

// Sends warm-up and measured requests and checks every answer (warm-up ones too; only the
// measured ones are timed). `answers`: a declared model's reference answers per sample (filled
// in by the off run, which has none).
void measure_serving(Sandbox& sandbox, const CaseSpec& c, const ModelArtifacts& model,
                     std::vector<json>& answers, bool have_reference, Observation& observation,
                     CaseResult& result) {
  std::vector<double> samples_us;
  try {
    OipClient client(sandbox.connect_inference(), c.timeouts.request);
    if (!client.ready()) {
      observation.serve_failure = "/v2/health/ready did not answer 200";
      return;
    }
    const std::size_t samples = model.uses_tensors() ? model.requests.size() : model.inputs.size();
    answers.resize(samples);
    const int total = c.warmup + c.requests;
    for (int i = 0; i < total; ++i) {
      check_interrupted();
      const std::size_t sample = static_cast<std::size_t>(i) % samples;
      std::string why;
      const auto start = Clock::now();
      const bool ok = ask(client, model, sample, answers, have_reference, &why);
      const double us = std::chrono::duration<double, std::micro>(Clock::now() - start).count();
      ++observation.requests_sent;
      if (ok) {
        ++observation.requests_correct;
      } else if (observation.serve_failure.empty()) {
        observation.serve_failure =
            why + " for input " + std::to_string(sample) + (i < c.warmup ? " (warm-up)" : "");
      }
      if (i >= c.warmup) samples_us.push_back(us);
    }
    // The off run of a declared model makes the reference: every input is asked once more, so
    // a model that is not deterministic is caught here, not blamed on the enforcer later.
    if (model.declared && !have_reference)
      for (std::size_t sample = 0; sample < samples; ++sample) {
        std::string why;
        ++observation.requests_sent;
        if (ask(client, model, sample, answers, false, &why))
          ++observation.requests_correct;
        else if (observation.serve_failure.empty())
          observation.serve_failure = why + " for input " + std::to_string(sample);
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

// Enforcer events: decisions become denials (block) and records (audit) for attribution; the
// first few are kept as evidence in full.
void account_events(const enforcer::EnforcerReport& report, Observation& observation,
                    CaseResult& result) {
  int kept = 0, blocks = 0, audits = 0;
  observation.events_dropped += report.dropped;
  for (const enforcer::EventRecord& event : report.events) {
    if (!event.is_decision()) continue;  // exec watch: an observation, not a decision
    const bool block = event.action == enforcer::EventAction::kBlock;
    if (!block && event.action != enforcer::EventAction::kAudit) continue;
    (block ? blocks : audits) += 1;
    attacks::Denial denial{
        "enforcer (" + to_string(event.backend) + ")",
        event.operation,
        event.resource,
        (event.change.empty() ? std::string() : event.change + ": ") +
            (event.rule.empty() ? std::string("default posture") : "rule " + event.rule) +
            (event.policy.empty() ? "" : " of " + event.policy) +
            (block ? ", " + enforcer::to_string(event.enforcement) : "") + ", by " +
            (event.exe.empty() ? event.comm : event.exe),
        block,
        nullptr,
        event.rule.empty() ? "default posture" : event.rule};
    (block ? observation.denials : observation.records).push_back(denial);
    if (kept++ < 20)
      result.evidence.push_back({"enforcer-event",
                                 enforcer::to_string(event.action) + " " +
                                     to_string(event.operation) + " " + event.resource + " (" +
                                     denial.detail + ")",
                                 event.to_json()});
  }
  result.enforcer["events"] = blocks + audits;
  result.enforcer["denials"] = blocks;
  result.enforcer["audits"] = audits;
  result.enforcer["dropped"] = observation.events_dropped;
}

// Whether the model server still serves after the attack: it answers ready and a reference
// request correctly, on a fresh connection.
Availability probe_service(Sandbox& sandbox, const ModelArtifacts& model, bool was_ready,
                           std::vector<json> answers, milliseconds request_limit) {
  if (!was_ready) return {false, "the model server never became ready"};
  try {
    OipClient client(sandbox.connect_inference(), request_limit);
    if (!client.ready()) return {false, "/v2/health/ready did not answer 200 after the attack"};
    std::string why;
    if (answers.empty()) answers.resize(1);
    if (!ask(client, model, 0, answers, !answers[0].is_null() || !model.declared, &why))
      return {false, "a reference request was answered wrongly after the attack (" + why + ")"};
    return {true, "ready and answering correctly after the attack"};
  } catch (const Error& e) {
    return {false, std::string("no answer after the attack: ") + e.what()};
  }
}

// A declared model is checked against the answers of its off run on the same target: without
// them (the off run failed or was not run) nothing can be said of this run.
void observation_without_reference(CaseResult& result) {
  result.verdict = Verdict::kInvalid;
  result.reason =
      "no reference answers: the same model without enforcement was not served correctly on "
      "this target, so this run's answers cannot be judged";
}

}  // namespace

MatrixRunner::MatrixRunner(RunnerEnvironment environment)
    : env_(std::move(environment)), host_enforcers_(std::make_shared<HostEnforcerPool>()) {}

MatrixRunner::~MatrixRunner() = default;

CaseResult MatrixRunner::run(const PlannedRun& planned, const Controls& controls) {
  const auto start = Clock::now();
  CaseResult result = skeleton(planned);
  try {
    Target& target = target_for(*planned.scenario, *planned.target);
    if (auto reason = unavailable(planned, target)) {
      result.verdict = Verdict::kNotRun;
      result.reason = *reason;
      result.evidence.push_back({"target", *reason, {{"host", host_facts().to_json()}}});
    } else {
      execute(planned, target, controls, result);
    }
  } catch (const StepTimeout& e) {
    // A hung step ends this case, not the run (what it held is released on the way out).
    result.verdict = Verdict::kError;
    result.reason = e.what();
    result.evidence.push_back(
        {"step", e.what(), {{"step", e.step()}, {"limit_ms", e.limit().count()}}});
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
    slot = env_.make_target(
        spec, TargetContext{env_.work_dir, env_.data_dir, env_.bin_dir,
                            env_.events_dir / scenario.name, env_.run_id, host_enforcers_});
  return *slot;
}

std::optional<std::string> MatrixRunner::unavailable(const PlannedRun& planned, Target& target) {
  if (auto reason = target.unavailable_reason()) return reason;
  for (const std::string& feature : planned.case_spec->requires_features)
    if (auto missing = host_facts().missing(feature))
      return "requires " + feature + ": " + *missing;
  return std::nullopt;
}

std::filesystem::path MatrixRunner::models_dir() const {
  return env_.work_dir /
         (env_.lane == 0 ? std::string("models") : "models-" + std::to_string(env_.lane));
}

const HostFacts& MatrixRunner::host_facts() {
  if (!host_facts_) host_facts_ = env_.probe_host();
  return *host_facts_;
}

const ModelArtifacts& MatrixRunner::model_for(const Scenario& scenario, const CaseSpec& c) {
  if (c.model.declared) {
    const std::string key = scenario.name + "/" + c.name;
    auto it = models_.find(key);
    if (it == models_.end())
      it = models_
               .emplace(key, stage_declared_model(*c.model.declared,
                                                  models_dir() / (scenario.name + "-" + c.name)))
               .first;
    return it->second;
  }
  // An undeclared file of a custom attack stands in for the generated MLP's weights: the MLP is
  // still made (its model.json, its requests and answers).
  const std::string generator = c.model.generator.empty() ? "mlp" : c.model.generator;
  std::string key = generator + "-";
  if (generator == "mlp")
    for (int size : c.model.layers) key += std::to_string(size) + "x";
  auto it = models_.find(key);
  if (it == models_.end())
    it = models_.emplace(key, env_.make_model(generator, c.model.layers, models_dir() / key)).first;
  return it->second;
}

void MatrixRunner::execute(const PlannedRun& planned, Target& target, const Controls& controls,
                           CaseResult& result) {
  const auto prepare_start = Clock::now();
  const CaseSpec& c = *planned.case_spec;
  const ModelArtifacts& model = model_for(*planned.scenario, c);
  // A declared model's reference answers: the off run's on this target.
  const std::string reference_key =
      planned.scenario->name + "/" + c.name + "/" + planned.target->name;
  // A generated model of another format knows its answers; a declared one learns them off.
  std::vector<json> answers = model.expected_answers;
  bool have_reference = !answers.empty();
  if (model.declared && planned.mode != EnforcerMode::kOff) {
    const auto it = references_.find(reference_key);
    if (it != references_.end()) {
      answers = it->second;
      have_reference = true;
    } else if (!c.is_attack()) {
      observation_without_reference(result);
      return;
    }
  }
  std::unique_ptr<attacks::Attack> attack;
  if (c.attack) {
    attack = c.attack->instantiate(attacks::AttackContext{env_.data_dir, env_.bin_dir},
                                   planned.target->limits);
    result.objective = attack->objective();
    if (result.objective.is_null()) result.objective = c.attack->objective();
  }

  const std::string run_name = "run-" + std::to_string(++runs_ * env_.lanes + env_.lane);
  ScopedDirectory run_dir(env_.work_dir / run_name);
  WorkloadSpec workload;
  workload.id = run_name;
  workload.model_dir = model.dir;
  workload.model_file = model.declared ? model.file_name : model.file_name_for(c.loader);
  workload.loader = c.loader;
  workload.ready_timeout = c.timeouts.ready;
  // The target's limits apply in every mode (they are the target's, not the enforcer's), except
  // the one a resource attack must show it exceeds, in its positive control.
  workload.limits = planned.target->limits;
  if (attack && planned.mode == EnforcerMode::kOff) {
    const auto lifted = c.attack->required_limit();
    if (lifted == "pids") workload.limits.pids.reset();
    if (lifted == "memory") workload.limits.memory_bytes.reset();
    if (lifted == "disk") workload.limits.disk_bytes.reset();
  }

  const EnforcementPlan enforcement{
      planned.mode, planned.scenario->enforcer.policies, planned.scenario->enforcer.backend,
      planned.scenario->enforcer.default_posture, c.timeouts.enforcer_load};
  const bool watch_exec = attack && attack->needs_exec_watch();
  if (watch_exec && !target.watches_exec())
    throw unsupported_error("target " + planned.target->name + " cannot observe exec objectives");

  // The model file must be trojaned before the sandbox starts: the target says how its
  // sandboxes reach the harness's listeners.
  Observation observation;
  if (attack) {
    attack->prepare(model, run_dir.path(), target.host_address(), workload);
  }
  // The exact bytes the server is handed: what a reviewer checks the verdict was about.
  if (const auto digest = digest_file(workload.model_dir / workload.model_file))
    result.evidence.push_back({"model",
                               "model file " + workload.model_file + " sha256 " + digest->sha256,
                               {{"file", workload.model_file},
                                {"loader", to_string(workload.loader)},
                                {"sha256", digest->sha256},
                                {"bytes", digest->bytes}}});
  result.timings["prepare_ms"] =
      std::chrono::duration_cast<milliseconds>(Clock::now() - prepare_start).count();
  const auto launch_start = Clock::now();
  std::unique_ptr<Sandbox> sandbox;
  {
    StepDeadline create("create", c.timeouts.create);
    sandbox = target.launch(workload, enforcement, watch_exec);
    create.finish();  // a libvirt call or a libbpf load waits on nothing a deadline could cut
  }
  result.timings["launch_ms"] =
      std::chrono::duration_cast<milliseconds>(Clock::now() - launch_start).count();
  try {
    const ReadyResult ready = sandbox->wait_ready();
    observation.server_ready = ready.ready;
    result.timings["ready_ms"] = ready.elapsed.count();
    if (ready.ready_message.contains("load_ms"))
      result.timings["model_load_ms"] = ready.ready_message["load_ms"];
    result.evidence.push_back(
        {"server", ready.ready ? "model server ready" : "model server not ready: " + ready.failure,
         ready.ready_message.is_null() ? json::object() : ready.ready_message});
    if (!ready.ready)
      observation.serve_failure = ready.elapsed >= c.timeouts.ready
                                      ? "step ready: " + ready.failure + " (limit " +
                                            std::to_string(c.timeouts.ready.count()) + " ms)"
                                      : ready.failure;
    const auto elapsed_ms = [](Clock::time_point since) {
      return std::chrono::duration_cast<milliseconds>(Clock::now() - since).count();
    };
    const auto serve_start = Clock::now();
    if (ready.ready)
      measure_serving(*sandbox, c, model, answers, have_reference, observation, result);
    result.timings["serve_ms"] = elapsed_ms(serve_start);
    if (model.declared && planned.mode == EnforcerMode::kOff && ready.ready &&
        observation.requests_sent > 0 && observation.requests_correct == observation.requests_sent)
      references_[reference_key] = answers;

    attacks::ObjectiveStatus objective;
    if (attack) {
      // The attack's own run and the wait for its objective: a hung attacker or observer ends
      // the case at this step's limit (the service probe after it is an observation).
      std::optional<StepDeadline> objective_step(std::in_place, "objective", c.timeouts.objective);
      const auto attack_start = Clock::now();
      if (ready.ready) attack->while_serving(*sandbox);
      result.timings["attack_ms"] = elapsed_ms(attack_start);
      // `settle` bounds the wait; it ends sooner when the objective is reached or when no process
      // of the workload is left to reach it (one more look after a poll interval, for what a
      // process did just before it ended, e.g. bytes in flight to a listener).
      const auto observe_start = Clock::now();
      const auto deadline = observe_start + c.settle;
      std::string ended = "settle elapsed";
      bool gone = false;
      for (;;) {
        objective = attack->observe(*sandbox);
        if (objective.reached) {
          ended = "objective reached";
          break;
        }
        if (gone) {
          ended = "no process of the workload left";
          break;
        }
        if (Clock::now() >= deadline) break;
        gone = sandbox->workload_gone();
        pollfd none{-1, 0, 0};
        poll_interruptible(&none, 1, kObservePollInterval);
      }
      result.timings["observe_ms"] = elapsed_ms(observe_start);
      result.objective["observation_ended"] = ended;
      objective_step->finish();
      objective_step.reset();
      observation.service =
          probe_service(*sandbox, model, ready.ready, answers, c.timeouts.request);
    }
    const auto stop_start = Clock::now();
    // Teardown runs to its end (each of its commands has its own bound): past its limit, the
    // case is an error once it is done.
    SandboxFinal final;
    {
      StepDeadline teardown_step("teardown", c.timeouts.teardown);
      final = sandbox->stop(attack ? attack->sandbox_files() : std::vector<std::string>{});
      result.timings["stop_ms"] = elapsed_ms(stop_start);
      teardown_step.finish();
    }
    // Once more on the final state: a late objective counts, and an exec seen running whose kill
    // event came later is not one that ran.
    if (attack && (!objective.reached || attack->needs_exec_watch()))
      objective = attack->observe(*sandbox);
    if (attack) {
      // What this run needed, now that it ran (the listener's port, the server's pid).
      observation.expected = attack->expected_operations();
      if (observation.expected.empty()) observation.expected = c.attack->expected_operations();
      json operations = json::array();
      for (const attacks::ExpectedOperation& op : observation.expected)
        operations.push_back(op.to_json());
      result.objective["expected_operations"] = operations;
    }

    const SandboxInfo& info = sandbox->info();
    result.enforcer["backend"] = info.enforcer_backend;
    result.enforcer["location"] = info.enforcer_location;
    if (!info.enforcer_backend.empty()) result.enforcer["reused"] = info.enforcer_reused;
    result.enforcer["runtime"] = info.runtime;
    for (const Evidence& e : info.evidence) result.evidence.push_back(e);
    account_events(sandbox->enforcer_report(), observation, result);
    result.timings.update(sandbox->timings());

    observation.objective_reached = objective.reached;
    observation.objective_attempted = objective.attempted;
    observation.objective_detail = objective.detail;
    for (Evidence& e : objective.evidence) result.evidence.push_back(std::move(e));
    for (attacks::Denial& d : objective.denials) observation.denials.push_back(std::move(d));
    if (attack)
      for (attacks::Denial& d : attack->kernel_denials(final.cgroup)) {
        result.evidence.push_back({"kernel", d.detail, final.cgroup.to_json()});
        observation.denials.push_back(std::move(d));
      }
    for (const attacks::Denial& d : final.runtime_denials) {
      result.evidence.push_back({"kernel", d.detail, d.evidence});
      observation.denials.push_back(d);
    }
    if (final.exited_early && final.workload_exit) {
      observation.crash = final.workload_exit->describe();
      observation.oom_killed = final.cgroup.memory_oom_kills > 0;
      if (observation.oom_killed)
        observation.crash += "; the kernel's OOM killer killed " +
                             std::to_string(final.cgroup.memory_oom_kills) +
                             " process(es) of its cgroup (memory.events oom_kill)";
    }
    json workload_json = {
        {"cgroup", final.cgroup.to_json()},
        {"limits", limits_json(workload.limits)},
        {"exit", final.workload_exit ? final.workload_exit->describe() : "running"},
        {"ended_before_stop", final.exited_early}};
    if (!final.server_log.empty()) workload_json["server_log_tail"] = final.server_log;
    result.evidence.push_back(
        {"target", "workload " + workload_json["exit"].get<std::string>(), workload_json});
    if (observation.service)
      result.evidence.push_back(
          {"service", observation.service->detail, {{"kept", observation.service->kept}}});
    if (c.is_attack())
      result.evidence.push_back(
          {"control",
           std::string("positive controls (same attack, enforcement off): this target ") +
               (controls.same_target                 ? to_string(*controls.same_target)
                : planned.mode == EnforcerMode::kOff ? "is this run"
                                                     : "not run") +
               (controls.reference_target.empty()
                    ? ""
                    : "; reference " + controls.reference_target + " " +
                          (controls.reference ? to_string(*controls.reference) : "not run"))});

    const Score score = score_case(c, planned.mode, observation, controls);
    result.verdict = score.verdict;
    result.reason = score.reason;
    result.service = observation.service;
    result.enforcer_recorded = score.enforcer_recorded;
    if (c.is_attack()) {
      json attributed = json::array();
      for (const attacks::Denial& d : score.attributed) attributed.push_back(d.to_json());
      result.attribution = {{"expected_operations", result.objective["expected_operations"]},
                            {"attributed", attributed},
                            {"unattributed", score.unattributed},
                            {"events_dropped", observation.events_dropped}};
    }
  } catch (...) {
    // The case ends in an error: what the target logged is its evidence, read while it exists.
    for (Evidence& e : sandbox->failure_logs()) result.evidence.push_back(std::move(e));
    throw;
  }
}

}  // namespace armorbench
