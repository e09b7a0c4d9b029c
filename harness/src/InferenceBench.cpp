// The interleaved inference-overhead bench (InferenceBench.h).
#include "armorbench/harness/InferenceBench.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <sstream>

#include "armorbench/base/Error.h"
#include "armorbench/base/Hex.h"
#include "armorbench/base/Interrupt.h"
#include "armorbench/harness/HostEnforcer.h"
#include "armorbench/harness/StaleRuns.h"
#include "armorbench/harness/Target.h"
#include "armorbench/harness/Workspace.h"
#include "armorbench/workload/ModelArtifacts.h"
#include "armorbench/workload/OipClient.h"

namespace armorbench {
namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::chrono::milliseconds kRequestTimeout{30'000};
// After a load or a teardown, before measuring: the kernel finishes its deferred work (RCU
// callbacks freeing programs and links) off the measured phase.
constexpr std::chrono::milliseconds kQuiesce{300};

void quiesce() {
  pollfd none{-1, 0, 0};
  poll_interruptible(&none, 1, kQuiesce);
}

// `count` requests over the open connection, each answer checked; latencies in microseconds.
std::vector<double> measure(OipClient& client, const ModelArtifacts& model, int count) {
  quiesce();  // every phase starts from the same state (idle, deferred kernel work done)
  std::vector<double> samples;
  samples.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    check_interrupted();
    const std::size_t sample = static_cast<std::size_t>(i) % model.inputs.size();
    const auto start = Clock::now();
    const std::vector<float> out = client.infer(model.name, model.inputs[sample]);
    samples.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
    if (!model.matches(out, model.outputs[sample]))
      throw harness_error("the model server answered input " + std::to_string(sample) +
                          " wrongly during the bench");
  }
  return samples;
}

}  // namespace

InferenceBenchResult run_inference_bench(const InferenceBenchOptions& options) {
  if (::geteuid() != 0) throw unsupported_error("the inference bench needs root (runc, BPF)");
  if (options.rounds < 2 || options.requests < 10)
    throw input_error("the inference bench needs at least 2 rounds of 10 requests");
  const auto started = Clock::now();
  const std::string run_id = random_hex(4);
  RunLease lease(kDefaultLeaseDir, run_id);  // `armorbench clean` knows what a killed bench left
  ScopedDirectory work(work_base() / ("armorbench-" + run_id));
  const ModelArtifacts model =
      generate_model(options.data_dir, work.path() / "model", options.layers);

  TargetSpec spec;
  spec.name = "runc";
  spec.kind = TargetKind::kRunc;
  const TargetContext context{
      work.path(), options.data_dir, options.bin_dir, work.path() / "events", run_id, nullptr};
  std::unique_ptr<Target> target = make_target(spec, context);
  if (auto why = target->unavailable_reason()) throw unsupported_error(*why);

  WorkloadSpec workload;
  workload.id = "bench";
  workload.model_dir = model.dir;
  workload.model_file = ModelArtifacts::file_for(Loader::kTorch);
  workload.loader = Loader::kTorch;
  workload.ready_timeout = std::chrono::milliseconds(120'000);
  std::unique_ptr<Sandbox> sandbox = target->launch(workload, EnforcementPlan{}, false);
  const ReadyResult ready = sandbox->wait_ready();
  if (!ready.ready) throw harness_error("the bench's model server is not ready: " + ready.failure);
  const SandboxInfo& info = sandbox->info();
  if (!info.cgroup_id || info.cgroup_dir.empty())
    throw unsupported_error("the container has no cgroup v2 directory to scope the enforcer to");

  EnforcementPlan audit{EnforcerMode::kAudit, options.policies, options.backend,
                        DefaultPosture::kBlock};
  EnforcementPlan block = audit;
  block.mode = EnforcerMode::kBlock;

  InferenceBenchResult result;
  result.rounds = options.rounds;
  result.requests = options.requests;
  result.phases = {"off", "audit", "block", "off-again"};
  result.samples.assign(result.phases.size(), {});
  OipClient client(sandbox->connect_inference(), kRequestTimeout);
  measure(client, model, options.warmup);
  // Phase order alternates (ABBA): even rounds off, audit, block, off-again; odd rounds the
  // reverse, off-again, block, audit, off. A drift within a round (the server slowing or warming
  // phase after phase) then puts each phase as often early as late, and cancels in the geometric
  // mean over rounds instead of biasing the phase that always came third; the two enforcer-free
  // phases stay at the ends (the enforcer is loaded once a round), so the A/A comparison
  // (off-again/off) is balanced the same way.
  const auto enforced = [&](const EnforcementPlan& first, std::size_t first_phase,
                            const EnforcementPlan& second, std::size_t second_phase, int round) {
    HostEnforcer enforcer(first);
    result.backend = enforcer.backend();
    enforcer.scope(*info.cgroup_id, info.cgroup_dir, false, info.init_pid,
                   work.path() / "events" / "bench.jsonl");
    result.samples[first_phase][static_cast<std::size_t>(round)] =
        measure(client, model, options.requests);
    enforcer.use(second);
    result.samples[second_phase][static_cast<std::size_t>(round)] =
        measure(client, model, options.requests);
    enforcer.unscope(*info.cgroup_id);
    result.enforcer_events += static_cast<int>(enforcer.report_for(*info.cgroup_id).events.size());
  };  // torn down on return: the next phase runs with no program attached
  for (auto& phase : result.samples) phase.resize(static_cast<std::size_t>(options.rounds));
  for (int round = 0; round < options.rounds; ++round) {
    const auto r = static_cast<std::size_t>(round);
    const bool forward = round % 2 == 0;
    std::vector<std::string> order = result.phases;
    if (!forward) std::reverse(order.begin(), order.end());
    result.orders.push_back(order);
    const std::size_t first = forward ? 0 : 3, last = 3 - first;  // off or off-again
    result.samples[first][r] = measure(client, model, options.requests);
    if (forward)
      enforced(audit, 1, block, 2, round);
    else
      enforced(block, 2, audit, 1, round);
    result.samples[last][r] = measure(client, model, options.requests);
  }
  sandbox->stop({});

  const auto strata = [&](std::size_t treatment, std::vector<std::size_t> controls) {
    std::vector<Stratum> out;
    for (int r = 0; r < options.rounds; ++r) {
      Stratum s;
      s.treatment = result.samples[treatment][static_cast<std::size_t>(r)];
      for (std::size_t c : controls) {
        const auto& more = result.samples[c][static_cast<std::size_t>(r)];
        s.control.insert(s.control.end(), more.begin(), more.end());
      }
      out.push_back(std::move(s));
    }
    return out;
  };
  const struct {
    const char* name;
    std::size_t treatment;
    std::vector<std::size_t> controls;
  } comparisons[] = {
      {"audit/off", 1, {0, 3}}, {"block/off", 2, {0, 3}}, {"off-again/off (noise floor)", 3, {0}}};
  for (const auto& c : comparisons)
    for (Statistic statistic : {Statistic::kP50, Statistic::kP99, Statistic::kMean})
      if (auto interval = bootstrap_ratio(strata(c.treatment, c.controls), statistic))
        result.figures.push_back({c.name, statistic, *interval});
  result.seconds = std::chrono::duration<double>(Clock::now() - started).count();
  return result;
}

json InferenceBenchResult::to_json() const {
  json figures_json = json::array();
  for (const Figure& f : figures)
    figures_json.push_back({{"comparison", f.name},
                            {"statistic", to_string(f.statistic)},
                            {"ratio", f.ratio.to_json()},
                            {"width", f.ratio.high - f.ratio.low}});
  json phases_json = json::object();
  for (std::size_t p = 0; p < phases.size(); ++p) {
    std::vector<double> all;
    for (const auto& round : samples[p]) all.insert(all.end(), round.begin(), round.end());
    phases_json[phases[p]] = {{"samples", all.size()},
                              {"p50_us", statistic_of(all, Statistic::kP50)},
                              {"p99_us", statistic_of(all, Statistic::kP99)},
                              {"mean_us", statistic_of(all, Statistic::kMean)}};
  }
  return {{"backend", backend},
          {"rounds", rounds},
          {"requests_per_phase", requests},
          {"phases", phases_json},
          {"orders", orders},
          {"figures", figures_json},
          {"enforcer_events", enforcer_events},
          {"seconds", seconds},
          {"method",
           "one runc container, one keep-alive connection; per round: off, audit (enforcer "
           "loaded and scoped), block (rules swapped), off again (enforcer torn down), every "
           "other round in reverse order (ABBA: off again, block, audit, off), so a drift "
           "within a round cancels; ratios are geometric means over rounds with "
           "percentile-bootstrap 95% intervals"}};
}

std::string InferenceBenchResult::table() const {
  std::ostringstream out;
  char line[160];
  std::snprintf(line, sizeof line,
                "inference overhead, backend %s, %d interleaved rounds x %d requests a phase\n",
                backend.c_str(), rounds, requests);
  out << line;
  std::snprintf(line, sizeof line, "%-28s %-5s %9s %21s %8s\n", "comparison", "stat", "ratio",
                "95% interval", "width");
  out << line;
  for (const Figure& f : figures) {
    std::snprintf(line, sizeof line, "%-28s %-5s %9.4f   [%7.4f, %7.4f] %8.4f\n", f.name.c_str(),
                  to_string(f.statistic).c_str(), f.ratio.estimate, f.ratio.low, f.ratio.high,
                  f.ratio.high - f.ratio.low);
    out << line;
  }
  std::snprintf(line, sizeof line, "enforcer decisions on the benign server: %d; %.1f s\n",
                enforcer_events, seconds);
  out << line;
  return out.str();
}

}  // namespace armorbench
