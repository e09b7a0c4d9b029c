// The case matrix: plans runs (positive controls first), hands each to the MatrixRunner, and
// streams the results.
#include "armorbench/harness/Orchestrator.h"

#include <fnmatch.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <exception>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <tuple>

#include "armorbench/base/Files.h"
#include "armorbench/base/Hex.h"
#include "armorbench/base/Interrupt.h"
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

std::vector<std::size_t> execution_order(const std::vector<PlannedRun>& runs) {
  std::map<const Scenario*, std::size_t> scenario_rank;
  std::map<const TargetSpec*, std::size_t> target_rank;
  for (const PlannedRun& run : runs)
    if (scenario_rank.emplace(run.scenario, scenario_rank.size()).second) {
      const std::vector<const TargetSpec*> order = reference_order(*run.scenario);
      for (std::size_t i = 0; i < order.size(); ++i) target_rank[order[i]] = i;
    }
  std::vector<std::size_t> order(runs.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  // Reference-only targets' runs (the plain-container controls VM runs are judged against)
  // first of all: a VM lane waits for them, and they need no enforcer.
  const auto key = [&](std::size_t i) {
    const PlannedRun& r = runs[i];
    return std::make_tuple(!r.target->reference_only, scenario_rank.at(r.scenario),
                           target_rank.at(r.target), r.mode);
  };
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return key(a) < key(b); });
  return order;
}

int lane_of(const PlannedRun& run, int lanes) {
  const bool vm = run.target->kind == TargetKind::kKata || run.target->kind == TargetKind::kCvm;
  return lanes >= 2 && vm ? 1 : 0;
}

namespace {

// A container run whose seccomp records could be confused with another run's.
bool runs_alone(const PlannedRun& run) {
  return !(run.target->kind == TargetKind::kKata || run.target->kind == TargetKind::kCvm) &&
         run.target->seccomp.mode != SeccompSpec::Mode::kUnconfined;
}

}  // namespace

Shard parse_shard(const std::string& text) {
  const auto slash = text.find('/');
  Shard shard;
  try {
    if (slash == std::string::npos) throw std::invalid_argument("no slash");
    std::size_t used = 0;
    shard.index = std::stoi(text.substr(0, slash), &used);
    if (used != slash) throw std::invalid_argument("index");
    const std::string count = text.substr(slash + 1);
    shard.count = std::stoi(count, &used);
    if (used != count.size()) throw std::invalid_argument("count");
  } catch (const std::exception&) {
    throw input_error("--shard " + text + ": expected I/N, e.g. 2/4");
  }
  if (shard.count < 1 || shard.index < 1 || shard.index > shard.count)
    throw input_error("--shard " + text + ": needs 1 <= I <= N");
  return shard;
}

std::vector<PlannedRun> shard_runs(const std::vector<PlannedRun>& runs, Shard shard) {
  std::vector<PlannedRun> out;
  int group = -1;
  const CaseSpec* current = nullptr;
  for (const PlannedRun& run : runs) {
    if (run.case_spec != current) {  // a case's runs are contiguous in plan order
      current = run.case_spec;
      ++group;
    }
    if (group % shard.count == shard.index - 1) out.push_back(run);
  }
  return out;
}

namespace {

// The id its CaseResult will have (CaseResult::id()).
std::string planned_id(const PlannedRun& run) {
  return run.scenario->name + "/" + run.case_spec->name + "[" + run.target->name + "/" +
         to_string(run.mode) + "]";
}

std::string control_key(const PlannedRun& run, const TargetSpec& target) {
  return run.scenario->name + "/" + run.case_spec->name + "/" + target.name;
}

// The resumed runs that stand as this run's: `done` and the positive controls filled in. A
// declared model's off run is run again when an enforced run of it is still to run: its
// reference answers live only in the process that served them.
void keep_resumed_runs(const std::vector<PlannedRun>& runs,
                       const std::vector<std::vector<std::size_t>>& needs,
                       const ResumedRuns& resumed, std::vector<std::optional<CaseResult>>& done,
                       std::map<std::string, Verdict>& controls, RunResults& results) {
  std::set<std::string> planned;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    planned.insert(planned_id(runs[i]));
    if (auto it = resumed.by_id.find(planned_id(runs[i])); it != resumed.by_id.end())
      done[i] = it->second;
  }
  for (const auto& [id, result] : resumed.by_id)
    if (!planned.count(id))
      throw input_error("--resume: results.jsonl holds " + id +
                        ", which this run does not plan: not the same run");
  for (std::size_t i = 0; i < runs.size(); ++i)
    if (!done[i] && runs[i].case_spec->model.declared && runs[i].mode != EnforcerMode::kOff)
      for (std::size_t j : needs[i])
        if (runs[j].target == runs[i].target) done[j].reset();
  int kept = 0;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    if (!done[i]) continue;
    ++kept;
    if (runs[i].mode == EnforcerMode::kOff && runs[i].case_spec->is_attack())
      controls[control_key(runs[i], *runs[i].target)] = done[i]->verdict;
  }
  results.run["resumed"] = {{"from", resumed.run_id},
                            {"kept", kept},
                            {"to_run", static_cast<int>(runs.size()) - kept},
                            {"partial_lines_ignored", resumed.partial_lines}};
}

}  // namespace

json run_request(const std::vector<Scenario>& scenarios, const RunOptions& options) {
  const auto file_json = [](const fs::path& file) {
    const auto digest = digest_file(file);
    return json{{"file", file.string()}, {"sha256", digest ? json(digest->sha256) : json()}};
  };
  json files = json::array();
  for (const Scenario& s : scenarios) {
    json policies = json::array();
    for (const fs::path& policy : s.enforcer.policies) policies.push_back(file_json(policy));
    json models = json::array();
    for (const CaseSpec& c : s.cases)
      if (c.model.file) models.push_back(file_json(*c.model.file));
    json entry = file_json(s.file);
    entry["name"] = s.name;
    entry["policies"] = policies;
    entry["models"] = models;
    files.push_back(entry);
  }
  return {{"tool", ARMORBENCH_VERSION},
          {"scenarios", files},
          {"filter", options.filter ? json(*options.filter) : json()},
          {"target", options.target ? json(*options.target) : json()},
          {"shard", options.shard ? json(std::to_string(options.shard->index) + "/" +
                                         std::to_string(options.shard->count))
                                  : json()}};
}

ResumedRuns read_resumed_runs(const fs::path& out_dir, const json& request) {
  const fs::path run_file = out_dir / "run.json";
  std::error_code ec;
  if (!fs::is_regular_file(run_file, ec))
    throw input_error("--resume " + out_dir.string() +
                      ": no run.json there (not the --out of an "
                      "armorbench run)");
  const json earlier = json::parse(read_whole_file(run_file), nullptr, false);
  if (earlier.is_discarded() || !earlier.is_object() || !earlier.contains("request"))
    throw input_error(run_file.string() + " is not a run record of armorbench");
  const json& asked = earlier["request"];
  if (asked.value("tool", json()) != request["tool"])
    throw input_error("--resume: the run in " + out_dir.string() + " was made by armorbench " +
                      asked.value("tool", json()).dump() + ", this is " + request["tool"].dump() +
                      ": its results would not be this build's");
  for (const char* key : {"filter", "target", "shard"})
    if (asked.value(key, json()) != request.value(key, json()))
      throw input_error("--resume: the run in " + out_dir.string() + " was asked for --" + key +
                        " " + asked.value(key, json()).dump() + ", this one for " +
                        request.value(key, json()).dump());
  if (asked.value("scenarios", json()) != request["scenarios"])
    throw input_error("--resume: the run in " + out_dir.string() +
                      " ran other scenario, policy or model files (or their bytes changed since): "
                      "its results would not be this run's; start afresh with another --out");

  ResumedRuns resumed;
  resumed.run_id = earlier.value("id", "");
  const fs::path log = out_dir / "results.jsonl";
  // Lines as written: a record is whole only with its newline (the log writes the two at once).
  const std::string text = fs::exists(log, ec) ? read_whole_file(log) : std::string();
  std::vector<std::string> lines;
  for (std::size_t begin = 0; begin < text.size();) {
    const std::size_t end = text.find('\n', begin);
    if (end == std::string::npos) {
      ++resumed.partial_lines;  // the crash cut the last write short: that run is run again
      break;
    }
    lines.push_back(text.substr(begin, end - begin));
    begin = end + 1;
  }
  for (std::size_t n = 0; n < lines.size(); ++n) {
    resumed.valid_bytes += lines[n].size() + 1;
    if (lines[n].empty()) continue;
    const json record = json::parse(lines[n], nullptr, false);
    try {
      if (record.is_discarded()) throw input_error("not JSON");
      CaseResult result = CaseResult::from_json(record);
      resumed.by_id.insert_or_assign(result.id(), std::move(result));
    } catch (const Error& e) {
      throw input_error("not a case run record: " + std::string(e.what()),
                        SourceLocation{log.string(), static_cast<int>(n + 1), 1});
    }
  }
  return resumed;
}

RunResults run_matrix(const std::vector<Scenario>& scenarios, const RunOptions& options,
                      const ProgressSink& progress) {
  const std::vector<PlannedRun> planned_all = plan_runs(scenarios, options.filter, options.target);
  if (planned_all.empty()) throw input_error("no case matches the filter and target given");
  const std::vector<PlannedRun> runs =
      options.shard ? shard_runs(planned_all, *options.shard) : planned_all;

  const json request = run_request(scenarios, options);
  std::optional<ResumedRuns> resumed;
  if (options.resume) resumed = read_resumed_runs(options.out_dir, request);

  RunResults results;
  const std::string run_id = random_hex(4);
  results.run = {{"id", run_id},
                 {"started", iso_time_now()},
                 {"tool", {{"name", "armorbench"}, {"version", ARMORBENCH_VERSION}}}};
  if (options.shard)
    results.run["shard"] = {{"index", options.shard->index}, {"count", options.shard->count}};
  if (!options.gate_overrides.empty()) results.run["gate_overrides"] = options.gate_overrides;
  if (options.filter) results.run["filter"] = *options.filter;
  if (options.target) results.run["target"] = *options.target;
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
  // A fresh results.jsonl per run: it is the crash-safe record of this run only (a resumed run
  // appends to the one it continues).
  std::error_code ec;
  if (!resumed) fs::remove(options.out_dir / "results.jsonl", ec);
  if (resumed && resumed->partial_lines > 0)  // appended lines start on a line of their own
    fs::resize_file(options.out_dir / "results.jsonl", resumed->valid_bytes);
  json record = {{"id", run_id}, {"started", results.run["started"]}, {"request", request}};
  if (resumed) record["resumed_from"] = resumed->run_id;
  write_file_atomically(options.out_dir / "run.json", record.dump(2) + "\n");
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

  const int lanes = std::clamp(options.jobs, 1, 2);
  std::vector<std::unique_ptr<MatrixRunner>> runners;
  for (int lane = 0; lane < lanes; ++lane)
    runners.push_back(std::make_unique<MatrixRunner>(RunnerEnvironment{
        work.path(), options.data_dir, options.bin_dir, options.out_dir / "events", run_id,
        options.make_target,
        options.make_model ? options.make_model
                           : ModelFactory([data_dir = options.data_dir](
                                              const std::string& generator,
                                              const std::vector<int>& layers, const fs::path& dir) {
                               return generator == "mlp"
                                          ? generate_model(data_dir, dir, layers)
                                          : generate_format_model(data_dir, dir, generator);
                             }),
        [host] { return host; }, lane, lanes}));
  results.run["jobs"] = lanes;

  // Everything below is guarded by `mutex`: the lanes share the controls, the log, the progress
  // sink and the results.
  std::mutex mutex;
  std::condition_variable changed;
  std::map<std::string, Verdict> controls;  // "scenario/case/target" -> positive-control verdict
  const auto control_of = [&](const PlannedRun& run,
                              const TargetSpec* target) -> std::optional<Verdict> {
    if (!target) return std::nullopt;
    const auto it = controls.find(control_key(run, *target));
    return it == controls.end() ? std::nullopt : std::optional<Verdict>(it->second);
  };
  // The off runs each run is judged against (its own target's, its reference's): a run waits
  // for those in the other lane; its own lane ran them already (execution order).
  std::vector<std::vector<std::size_t>> needs(runs.size());
  for (std::size_t i = 0; i < runs.size(); ++i)
    for (std::size_t j = 0; j < runs.size(); ++j) {
      const PlannedRun &a = runs[i], &b = runs[j];
      if (j == i || b.mode != EnforcerMode::kOff || b.scenario != a.scenario ||
          b.case_spec != a.case_spec)
        continue;
      if ((b.target == a.target && a.mode != EnforcerMode::kOff) || b.target == a.reference)
        needs[i].push_back(j);
    }
  const std::vector<std::size_t> order = execution_order(runs);
  std::vector<std::optional<CaseResult>> done(runs.size());
  if (resumed) keep_resumed_runs(runs, needs, *resumed, done, controls, results);
  std::vector<int> busy(static_cast<std::size_t>(lanes), 0);
  bool alone = false, alone_waiting = false, stop = false;
  // Progress counts on from the runs a resumed run kept.
  std::size_t step = resumed ? results.run["resumed"]["kept"].get<std::size_t>() : 0;
  std::exception_ptr failure;

  const auto lane_work = [&](int lane) {
    MatrixRunner& runner = *runners[static_cast<std::size_t>(lane)];
    for (std::size_t index : order) {
      const PlannedRun& planned = runs[index];
      if (lane_of(planned, lanes) != lane) continue;
      {
        std::lock_guard lock(mutex);
        if (done[index]) continue;  // kept from the run this one resumes
      }
      const bool solo = lanes > 1 && runs_alone(planned);
      Controls control;
      std::size_t my_step = 0;
      {
        std::unique_lock lock(mutex);
        const auto others_idle = [&] {
          for (int l = 0; l < lanes; ++l)
            if (l != lane && busy[static_cast<std::size_t>(l)]) return false;
          return true;
        };
        const auto ready = [&] {
          if (stop) return true;
          for (std::size_t j : needs[index])
            if (!done[j]) return false;
          if (alone) return false;
          if (solo) return others_idle();
          return !alone_waiting;
        };
        if (solo) alone_waiting = true;
        while (!ready()) {
          changed.wait_for(lock, std::chrono::milliseconds(100));
          if (interrupted()) stop = true;
        }
        if (solo) alone_waiting = false;
        if (stop) return;
        alone = solo;
        busy[static_cast<std::size_t>(lane)] = 1;
        if (planned.mode != EnforcerMode::kOff)
          control.same_target = control_of(planned, planned.target);
        if (planned.reference) {
          control.reference = control_of(planned, planned.reference);
          control.reference_target = planned.reference->name;
        }
        my_step = step++;
        if (progress.started) progress.started(my_step, runs.size(), planned);
      }
      CaseResult result = runner.run(planned, control);  // throws Interrupted only
      std::lock_guard lock(mutex);
      busy[static_cast<std::size_t>(lane)] = 0;
      alone = false;
      if (planned.mode == EnforcerMode::kOff && planned.case_spec->is_attack())
        controls[control_key(planned, *planned.target)] = result.verdict;
      log.append(result);
      if (progress.finished) progress.finished(my_step, runs.size(), result);
      done[index] = std::move(result);
      changed.notify_all();
    }
  };
  const auto guarded = [&](int lane) {
    try {
      lane_work(lane);
    } catch (...) {
      std::lock_guard lock(mutex);
      if (!failure) failure = std::current_exception();
      stop = true;
      changed.notify_all();
    }
  };
  if (lanes == 1) {
    guarded(0);
  } else {
    std::thread vm_lane(guarded, 1);
    guarded(0);
    vm_lane.join();
  }
  runners.clear();  // every sandbox, enforcer and VM of the run is gone before the work dir
  if (failure) std::rethrow_exception(failure);
  // Plan order, implicit controls too: they are evidence.
  for (std::optional<CaseResult>& result : done) results.cases.push_back(std::move(*result));
  results.summary = summarize(results.cases);
  results.overhead = overhead_figures(results.cases);
  results.time = time_breakdown(results.cases);
  results.gates = evaluate_gates(scenarios, results.cases);
  results.exit_code = run_exit_code(results.cases, results.gates);
  // An empty shard (more runners than cases) ran nothing and claims nothing: not a failure.
  if (runs.empty()) results.exit_code = ExitCode::kOk;
  results.run["finished"] = iso_time_now();
  return results;
}

void check_shards(const std::vector<json>& shards) {
  if (shards.empty()) throw input_error("merge needs the results.json of every shard");
  const auto shard_of = [](const json& doc) -> std::pair<int, int> {
    if (!doc.is_object() || doc.value("schema", 0) != kResultsSchema || !doc.contains("run") ||
        !doc["run"].is_object() || !doc.contains("cases") || !doc["cases"].is_array())
      throw input_error("not an ArmorBench results.json (schema 1)");
    const json shard = doc["run"].value("shard", json());
    if (!shard.is_object()) throw input_error("a results.json of an unsharded run (no run.shard)");
    const std::pair<int, int> slice{shard.value("index", 0), shard.value("count", 0)};
    if (slice.second < 1 || slice.first < 1 || slice.first > slice.second)
      throw input_error("a results.json whose run.shard is not I/N");
    return slice;
  };
  const int count = shard_of(shards.front()).second;
  std::set<int> seen;
  for (const json& doc : shards) {
    const auto [index, n] = shard_of(doc);
    if (n != count)
      throw input_error("shards of different splits (" + std::to_string(n) + " and " +
                        std::to_string(count) + " shards)");
    if (doc.value("scenarios", json()) != shards.front().value("scenarios", json()))
      throw input_error("shard " + std::to_string(index) + " ran other scenarios than shard " +
                        std::to_string(shard_of(shards.front()).first));
    if (doc["run"].value("filter", json()) != shards.front()["run"].value("filter", json()) ||
        doc["run"].value("target", json()) != shards.front()["run"].value("target", json()))
      throw input_error("shard " + std::to_string(index) + " ran another --filter or --target");
    if (!seen.insert(index).second)
      throw input_error("shard " + std::to_string(index) + " given twice");
  }
  for (int i = 1; i <= count; ++i)
    if (!seen.count(i))
      throw input_error("shard " + std::to_string(i) + " of " + std::to_string(count) +
                        " is missing: a merge of fewer shards is not the whole run");
}

RunResults merge_shards(const std::vector<json>& shards, const std::vector<Scenario>& scenarios) {
  check_shards(shards);

  // Cases in plan order: by scenario, then by the case's place in its scenario; a case's runs
  // come from one shard, in the order that shard ran them.
  std::map<std::pair<std::string, std::string>, std::size_t> order;
  for (const Scenario& s : scenarios)
    for (const CaseSpec& c : s.cases) order.emplace(std::make_pair(s.name, c.name), order.size());
  RunResults results;
  std::vector<std::pair<std::size_t, CaseResult>> cases;
  std::string started, finished;
  json ids = json::array();
  for (const json& doc : shards) {
    for (const json& c : doc.value("cases", json::array())) {
      CaseResult result = CaseResult::from_json(c);
      const auto it = order.find({result.scenario, result.case_name});
      if (it == order.end())
        throw input_error("case " + result.id() + " is in no scenario file given to merge");
      cases.emplace_back(it->second, std::move(result));
    }
    const std::string s = doc["run"].value("started", ""), f = doc["run"].value("finished", "");
    if (started.empty() || s < started) started = s;
    if (f > finished) finished = f;
    ids.push_back({{"shard", doc["run"]["shard"]["index"]},
                   {"id", doc["run"].value("id", "")},
                   {"host", doc.value("host", json())}});
  }
  std::stable_sort(cases.begin(), cases.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [rank, c] : cases) results.cases.push_back(std::move(c));
  results.run = shards.front()["run"];
  results.run.erase("shard");
  results.run["id"] = random_hex(4);
  results.run["started"] = started;
  results.run["finished"] = finished;
  results.run["merged_from"] = ids;
  results.host = shards.front().value("host", json());
  for (const json& s : shards.front()["scenarios"]) results.scenarios.push_back(s);
  results.summary = summarize(results.cases);
  results.overhead = overhead_figures(results.cases);
  results.time = time_breakdown(results.cases);
  results.gates = evaluate_gates(scenarios, results.cases);
  results.exit_code = run_exit_code(results.cases, results.gates);
  return results;
}

}  // namespace armorbench
