// Results: statistics, summaries and rates, gates, exit codes, and the schema of results.json.
#include "armorbench/harness/Results.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>

namespace armorbench {
namespace {

CaseResult result(const std::string& target, EnforcerMode mode, const std::string& attack,
                  Verdict verdict, Verdict expected) {
  CaseResult r;
  r.scenario = "s";
  r.case_name = "c";
  r.target = target;
  r.mode = mode;
  r.attack = attack;
  r.verdict = verdict;
  r.expected = expected;
  return r;
}

TEST(LatencyStats, PercentilesInterpolateLikeNumpy) {
  const LatencyStats s = LatencyStats::from_samples({5, 1, 4, 2, 3});
  EXPECT_EQ(s.count, 5u);
  EXPECT_DOUBLE_EQ(s.min_us, 1);
  EXPECT_DOUBLE_EQ(s.max_us, 5);
  EXPECT_DOUBLE_EQ(s.p50_us, 3);
  EXPECT_DOUBLE_EQ(s.p95_us, 4.8);  // numpy.percentile([1..5], 95) == 4.8
  EXPECT_DOUBLE_EQ(s.mean_us, 3);
  EXPECT_NEAR(s.stddev_us, 1.5811388, 1e-6);
  EXPECT_EQ(s.samples_us.size(), 5u);  // raw samples are kept, in arrival order
  EXPECT_DOUBLE_EQ(s.samples_us[0], 5);
}

TEST(Summary, RatesCountOnlyValidCases) {
  std::vector<CaseResult> cases{
      result("runc", EnforcerMode::kBlock, std::string("pickle-injection"), Verdict::kBlocked,
             Verdict::kBlocked),
      result("runc", EnforcerMode::kBlock, std::string("cryptominer"), Verdict::kBlocked,
             Verdict::kBlocked),
      result("runc", EnforcerMode::kBlock, std::string("memory-dump"), Verdict::kReached,
             Verdict::kBlocked),
      result("runc", EnforcerMode::kBlock, std::string("custom"), Verdict::kInvalid,
             Verdict::kBlocked),
      result("runc", EnforcerMode::kBlock, std::string(), Verdict::kAllowed, Verdict::kAllowed),
      result("runc", EnforcerMode::kBlock, std::string(), Verdict::kDisrupted, Verdict::kAllowed),
      result("runc", EnforcerMode::kAudit, std::string("pickle-injection"), Verdict::kDetected,
             Verdict::kDetected),
      result("runc", EnforcerMode::kAudit, std::string("memory-dump"), Verdict::kReached,
             Verdict::kDetected),
  };
  const auto summary = summarize(cases);
  ASSERT_EQ(summary.size(), 2u);
  const ModeSummary& block = summary[0];
  EXPECT_EQ(block.mode, EnforcerMode::kBlock);
  EXPECT_EQ(block.attacks, 4);
  EXPECT_EQ(block.invalid, 1);
  EXPECT_NEAR(*block.block_rate, 2.0 / 3.0, 1e-12);  // the invalid case is excluded
  EXPECT_DOUBLE_EQ(*block.false_positive_rate, 0.5);
  EXPECT_FALSE(block.detection_rate.has_value());
  const ModeSummary& audit = summary[1];
  EXPECT_DOUBLE_EQ(*audit.detection_rate, 0.5);
  EXPECT_FALSE(audit.block_rate.has_value());
  EXPECT_FALSE(audit.false_positive_rate.has_value());  // no benign case in audit mode
}

Scenario scenario_with_gate(GateSpec gate) {
  Scenario s;
  s.name = "s";
  s.gate = gate;
  TargetSpec runc;
  runc.name = "runc";
  s.targets.push_back(runc);
  s.enforcer.modes = {EnforcerMode::kOff, EnforcerMode::kBlock};
  return s;
}

TEST(Gates, ThresholdsPassAndFail) {
  std::vector<CaseResult> cases{
      result("runc", EnforcerMode::kBlock, std::string("pickle-injection"), Verdict::kBlocked,
             Verdict::kBlocked),
      result("runc", EnforcerMode::kBlock, std::string("memory-dump"), Verdict::kReached,
             Verdict::kReached),
  };
  GateSpec gate;
  gate.min_block_rate = 0.5;
  auto gates = evaluate_gates({scenario_with_gate(gate)}, cases);
  ASSERT_EQ(gates.size(), 2u);  // expectations + min_block_rate[runc]
  EXPECT_TRUE(gates[0].passed);
  EXPECT_EQ(gates[1].gate, "min_block_rate[runc]");
  EXPECT_TRUE(gates[1].passed);
  EXPECT_EQ(run_exit_code(cases, gates), ExitCode::kOk);

  gate.min_block_rate = 0.75;
  gates = evaluate_gates({scenario_with_gate(gate)}, cases);
  EXPECT_FALSE(gates[1].passed);
  EXPECT_NE(gates[1].detail.find("0.500 >= 0.750 FAILED"), std::string::npos) << gates[1].detail;
  EXPECT_EQ(run_exit_code(cases, gates), ExitCode::kGateFailed);
}

TEST(Gates, UnmetExpectationFailsAndNamesTheCase) {
  std::vector<CaseResult> cases{result("runc", EnforcerMode::kBlock,
                                       std::string("pickle-injection"), Verdict::kReached,
                                       Verdict::kBlocked)};
  const auto gates = evaluate_gates({scenario_with_gate({})}, cases);
  ASSERT_EQ(gates.size(), 1u);
  EXPECT_FALSE(gates[0].passed);
  EXPECT_NE(gates[0].detail.find("s/c[runc/block] was reached, expected blocked"),
            std::string::npos)
      << gates[0].detail;
  EXPECT_EQ(run_exit_code(cases, gates), ExitCode::kGateFailed);
}

TEST(Gates, MaxInvalidCountsUnexpectedInvalids) {
  std::vector<CaseResult> cases{result("runc", EnforcerMode::kOff, std::string("pickle-injection"),
                                       Verdict::kInvalid, Verdict::kReached)};
  GateSpec gate;
  gate.max_invalid = 0;
  const auto gates = evaluate_gates({scenario_with_gate(gate)}, cases);
  EXPECT_FALSE(gates.back().passed);
  EXPECT_EQ(gates.back().gate, "max_invalid");
}

TEST(Gates, ARateGateWithNothingToDivideIsNotEvaluatedAndExitsThree) {
  // A host that cannot enforce: the positive control ran, every enforced run is not-run.
  std::vector<CaseResult> cases{
      result("runc", EnforcerMode::kOff, std::string("pickle-injection"), Verdict::kReached,
             Verdict::kReached),
      result("runc", EnforcerMode::kBlock, std::string("pickle-injection"), Verdict::kNotRun,
             Verdict::kBlocked),
  };
  GateSpec gate;
  gate.min_block_rate = 0.8;
  const auto gates = evaluate_gates({scenario_with_gate(gate)}, cases);
  ASSERT_EQ(gates.size(), 2u);
  EXPECT_FALSE(gates[0].evaluated) << "a not-run enforced run leaves the expectations unjudged";
  EXPECT_NE(gates[0].detail.find("not evaluated"), std::string::npos) << gates[0].detail;
  EXPECT_EQ(gates[1].gate, "min_block_rate[runc]");
  EXPECT_FALSE(gates[1].evaluated);
  EXPECT_EQ(run_exit_code(cases, gates), ExitCode::kNotEvaluated);
}

TEST(Gates, NotRunOnAnOptionalTargetIsExpected) {
  Scenario s = scenario_with_gate({});
  s.gate.min_block_rate = 0.5;
  TargetSpec cvm;
  cvm.name = "cvm";
  cvm.optional = true;
  s.targets.push_back(cvm);
  CaseResult skipped = result("cvm", EnforcerMode::kBlock, std::string("memory-dump"),
                              Verdict::kNotRun, Verdict::kBlocked);
  skipped.optional_target = true;
  std::vector<CaseResult> cases{result("runc", EnforcerMode::kBlock, std::string("memory-dump"),
                                       Verdict::kBlocked, Verdict::kBlocked),
                                skipped};
  const auto gates = evaluate_gates({s}, cases);
  for (const GateResult& g : gates) EXPECT_TRUE(g.evaluated && g.passed) << g.gate << g.detail;
  EXPECT_EQ(gates.size(), 2u) << "no rate gate for a target that ran nothing";
  EXPECT_EQ(run_exit_code(cases, gates), ExitCode::kOk);
}

TEST(Summary, BlockedRunsCountServiceKeptAndLostAndPreventedIsOutsideTheRates) {
  CaseResult kept = result("kata", EnforcerMode::kBlock, std::string("pickle-injection"),
                           Verdict::kBlocked, Verdict::kBlocked);
  kept.service = Availability{true, "answering"};
  CaseResult lost = kept;
  lost.service = Availability{false, "the model server never became ready"};
  CaseResult prevented = result("kata", EnforcerMode::kBlock, std::string("memory-dump"),
                                Verdict::kPrevented, Verdict::kPrevented);
  const auto summary = summarize({kept, lost, prevented});
  ASSERT_EQ(summary.size(), 1u);
  EXPECT_EQ(summary[0].blocked_service_kept, 1);
  EXPECT_EQ(summary[0].blocked_service_lost, 1);
  EXPECT_EQ(summary[0].prevented, 1);
  EXPECT_DOUBLE_EQ(*summary[0].block_rate, 1.0);
}

TEST(Summary, DetectionRateCountsOnlyWhatTheEnforcerRecorded) {
  CaseResult by_kernel = result("runc", EnforcerMode::kAudit, std::string("fork-bomb"),
                                Verdict::kBlocked, Verdict::kBlocked);
  CaseResult detected = result("runc", EnforcerMode::kAudit, std::string("pickle-injection"),
                               Verdict::kDetected, Verdict::kDetected);
  detected.enforcer_recorded = true;
  const auto summary = summarize({by_kernel, detected});
  EXPECT_DOUBLE_EQ(*summary[0].detection_rate, 0.5);
}

TEST(ExitCodes, NothingRanErrorAndPrecedence) {
  std::vector<CaseResult> not_run{
      result("cvm", EnforcerMode::kOff, std::string(), Verdict::kNotRun, Verdict::kAllowed)};
  EXPECT_EQ(run_exit_code(not_run, {}), ExitCode::kNotEvaluated);
  std::vector<CaseResult> with_error{
      result("runc", EnforcerMode::kOff, std::string(), Verdict::kError, Verdict::kAllowed),
      result("runc", EnforcerMode::kBlock, std::string(), Verdict::kAllowed, Verdict::kAllowed)};
  EXPECT_EQ(run_exit_code(with_error, {GateResult{"s", "g", false, true, ""}}),
            ExitCode::kHarnessError);
}

TEST(ResultsJson, CarriesTheDocumentedSchema) {
  RunResults results;
  results.run = {{"id", "abcd"}};
  results.host = {{"kernel", {{"ok", true}, {"detail", "6.1"}}}};
  CaseResult c = result("runc", EnforcerMode::kBlock, std::string("pickle-injection"),
                        Verdict::kBlocked, Verdict::kBlocked);
  c.evidence.push_back({"enforcer-event", "block exec /bin/sh", {{"action", "block"}}});
  c.latency = LatencyStats::from_samples({100, 200});
  c.timings = {{"ready_ms", 2500}};
  results.cases.push_back(c);
  results.summary = summarize(results.cases);
  const auto json = results.to_json();
  EXPECT_EQ(json["schema"], 1);
  for (const char* key : {"run", "host", "scenarios", "cases", "summary"})
    EXPECT_TRUE(json.contains(key)) << key;
  const auto& first = json["cases"][0];
  for (const char* key : {"scenario", "case", "target", "enforcer_mode", "verdict", "evidence",
                          "timings", "latency", "enforcer", "expected", "passed", "reason"})
    EXPECT_TRUE(first.contains(key)) << key;
  EXPECT_EQ(first["verdict"], "blocked");
  EXPECT_EQ(first["evidence"][0]["kind"], "enforcer-event");
  EXPECT_EQ(first["latency"]["samples_us"].size(), 2u);
  const auto& by_mode = json["summary"]["by_target_mode"][0];
  EXPECT_EQ(by_mode["block_rate"], 1.0);
  EXPECT_TRUE(by_mode["false_positive_rate"].is_null());
  EXPECT_EQ(by_mode["counts"]["blocked"], 1);
}

CaseResult benign(const std::string& name, EnforcerMode mode, double center, int n = 64) {
  CaseResult r = result("runc", mode, std::string(), Verdict::kAllowed, Verdict::kAllowed);
  r.case_name = name;
  std::vector<double> samples;
  for (int i = 0; i < n; ++i) samples.push_back(center + (i % 9) - 4);
  r.latency = LatencyStats::from_samples(samples);
  r.timings = {{"model_load_ms", 200}, {"ready_ms", 1500}};
  return r;
}

TEST(Overhead, EachEnforcedModeAgainstOffWithItsIntervalAndTimings) {
  const std::vector<CaseResult> cases{
      benign("a", EnforcerMode::kOff, 1000), benign("a", EnforcerMode::kBlock, 1100),
      benign("b", EnforcerMode::kOff, 2000), benign("b", EnforcerMode::kBlock, 2200)};
  const auto figures = overhead_figures(cases);
  ASSERT_EQ(figures.size(), 1u);
  const OverheadFigure& f = figures[0];
  EXPECT_EQ(f.against, "off");
  EXPECT_EQ(f.mode, EnforcerMode::kBlock);
  EXPECT_EQ(f.cases, 2);
  EXPECT_EQ(f.samples, 128u);
  const Interval* p50 = f.ratio(Statistic::kP50);
  ASSERT_NE(p50, nullptr);
  EXPECT_NEAR(p50->estimate, 1.1, 0.002);
  EXPECT_LE(p50->low, p50->estimate);
  EXPECT_GE(p50->high, p50->estimate);
  EXPECT_EQ(f.timings["ready_ms"], 1500);
  const auto j = f.to_json();
  EXPECT_TRUE(j.contains("ratio_p99"));
  EXPECT_EQ(j["enforcer_mode"], "block");
}

TEST(Gates, AnOverheadGateFailsAboveItsIntervalPassesBelowAndIsInconclusiveAcross) {
  const std::vector<CaseResult> cases{benign("a", EnforcerMode::kOff, 1000),
                                      benign("a", EnforcerMode::kBlock, 1100)};
  const auto overhead_gate = [&](double threshold, bool fail_inconclusive) {
    GateSpec gate;
    gate.max_overhead_p50 = threshold;
    gate.fail_inconclusive = fail_inconclusive;
    const auto gates = evaluate_gates({scenario_with_gate(gate)}, cases);
    for (const GateResult& g : gates)
      if (g.gate == "max_overhead_p50.block[runc]") return g;
    ADD_FAILURE() << "no overhead gate";
    return GateResult{};
  };
  const GateResult fail = overhead_gate(1.05, true);
  EXPECT_FALSE(fail.passed);
  EXPECT_FALSE(fail.inconclusive);
  EXPECT_NE(fail.detail.find("FAILED"), std::string::npos) << fail.detail;
  EXPECT_NE(fail.detail.find("95% CI"), std::string::npos) << fail.detail;
  EXPECT_TRUE(overhead_gate(1.2, true).passed);
  // The measured ratio is 1.1 with a spread: a threshold at 1.1 lies inside the interval.
  const GateResult across = overhead_gate(1.1, true);
  EXPECT_TRUE(across.inconclusive);
  EXPECT_FALSE(across.passed);  // on_inconclusive = fail (the default)
  EXPECT_TRUE(overhead_gate(1.1, false).passed);
  EXPECT_EQ(run_exit_code(cases, {fail}), ExitCode::kGateFailed);
}

TEST(Gates, AnOverheadGateWithoutBenignSamplesIsNotEvaluated) {
  GateSpec gate;
  gate.max_overhead_p99 = 1.5;
  const std::vector<CaseResult> cases{result("runc", EnforcerMode::kBlock,
                                             std::string("pickle-injection"), Verdict::kBlocked,
                                             Verdict::kBlocked)};
  const auto gates = evaluate_gates({scenario_with_gate(gate)}, cases);
  ASSERT_EQ(gates.size(), 2u);
  EXPECT_EQ(gates[1].gate, "max_overhead_p99.block[runc]");
  EXPECT_FALSE(gates[1].evaluated);
  EXPECT_EQ(run_exit_code(cases, gates), ExitCode::kNotEvaluated);
}

TEST(Gates, RequireBackendNamesTheRunsOnAnother) {
  GateSpec gate;
  gate.require_backend = "bpf-lsm";
  std::vector<CaseResult> cases{
      result("runc", EnforcerMode::kOff, std::string("x"), Verdict::kReached, Verdict::kReached),
      result("runc", EnforcerMode::kBlock, std::string("x"), Verdict::kBlocked, Verdict::kBlocked)};
  cases[1].enforcer = {{"backend", "tracepoint"}};
  auto gates = evaluate_gates({scenario_with_gate(gate)}, cases);
  ASSERT_EQ(gates.back().gate, "require_backend");
  EXPECT_FALSE(gates.back().passed);
  EXPECT_NE(gates.back().detail.find("ran tracepoint"), std::string::npos) << gates.back().detail;
  cases[1].enforcer = {{"backend", "bpf-lsm"}};
  gates = evaluate_gates({scenario_with_gate(gate)}, cases);
  EXPECT_TRUE(gates.back().passed) << gates.back().detail;
}

TEST(ResultsJson, ACaseRecordReadsBackAsTheSameRecord) {
  CaseResult c = benign("a", EnforcerMode::kAudit, 1000, 5);
  c.attack = "pickle-injection";
  c.verdict = Verdict::kDetected;
  c.expected = Verdict::kDetected;
  c.evidence.push_back({"enforcer-event", "audit exec /bin/sh", {{"action", "audit"}}});
  c.service = Availability{true, "answered"};
  c.enforcer_recorded = true;
  c.optional_target = true;
  c.attribution = {{"attributed", nlohmann::json::array()}};
  c.duration_s = 2.5;
  const auto j = c.to_json();
  EXPECT_EQ(CaseResult::from_json(j).to_json(), j);
  try {
    CaseResult::from_json({{"scenario", "s"}});
    ADD_FAILURE() << "a record without its case parsed";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInput);
  }
}

// Where the time went: disjoint phases that add up to each run's duration, the harness's share
// (everything but the server's start, the requests and the attack), enforcer loads counted.
TEST(TimeBreakdown, PhasesAddUpAndTheHarnessShareIsTheRest) {
  CaseResult loaded =
      result("runc", EnforcerMode::kBlock, "", Verdict::kAllowed, Verdict::kAllowed);
  loaded.target_kind = "runc";
  loaded.duration_s = 4.0;
  loaded.timings = {{"prepare_ms", 100}, {"launch_ms", 900},  {"enforcer_load_ms", 700},
                    {"start_ms", 10},    {"ready_ms", 1510},  {"serve_ms", 500},
                    {"attack_ms", 0},    {"observe_ms", 600}, {"stop_ms", 300}};
  CaseResult reused = loaded;
  reused.timings.erase("enforcer_load_ms");
  reused.timings["launch_ms"] = 200;
  reused.duration_s = 3.3;
  CaseResult vm = result("kata", EnforcerMode::kOff, "", Verdict::kAllowed, Verdict::kAllowed);
  vm.target_kind = "kata";
  vm.duration_s = 30;
  vm.timings = {{"launch_ms", 10000}, {"start_ms", 1000}, {"ready_ms", 19000}, {"serve_ms", 900}};
  CaseResult never = vm;
  never.verdict = Verdict::kNotRun;  // never launched: not in the figures

  const std::vector<TimeBreakdown> time = time_breakdown({loaded, reused, vm, never});
  ASSERT_EQ(time.size(), 3u);
  EXPECT_EQ(time[0].target_kind, "kata");
  EXPECT_EQ(time[1].target_kind, "runc");
  EXPECT_EQ(time[2].target_kind, "all");
  const TimeBreakdown& runc = time[1];
  EXPECT_EQ(runc.runs, 2);
  EXPECT_DOUBLE_EQ(runc.seconds, 7.3);
  EXPECT_DOUBLE_EQ(runc.median_run_s, 3.65);
  EXPECT_EQ(runc.enforcer_loads, 1);
  EXPECT_DOUBLE_EQ(runc.enforcer_load_s, 0.7);
  std::map<std::string, double> phase;
  double sum = 0;
  for (const TimeBreakdown::Phase& p : runc.phases) {
    phase[p.name] = p.seconds;
    sum += p.seconds;
  }
  EXPECT_NEAR(sum, 7.3, 1e-9);
  EXPECT_NEAR(phase["server-start"], 3.0, 1e-9);  // ready minus the runtime's start, twice
  EXPECT_NEAR(phase["attack"], 1.2, 1e-9);
  EXPECT_NEAR(phase["launch"], 1.1, 1e-9);
  EXPECT_NEAR(phase["other"], 0.1 + 0.1, 1e-9);  // 4.0 - 3.9 and 3.3 - 3.2
  // harness: prepare 0.2 + launch 1.1 + stop 0.6 + other 0.2 = 2.1 of 7.3
  EXPECT_NEAR(runc.harness_share, 2.1 / 7.3, 1e-9);
  EXPECT_EQ(time[2].runs, 3);
  EXPECT_NEAR(time[0].harness_share, (10.0 + 30 - 10 - 18 - 0.9) / 30, 1e-9);
  const nlohmann::json j = runc.to_json();
  EXPECT_EQ(j["phases"].size(), 7u);
  EXPECT_EQ(j["phases"][2]["phase"], "server-start");
  EXPECT_FALSE(j["phases"][2]["harness"].get<bool>());
}

TEST(CaseLog, AppendsOneFlushedLinePerCase) {
  const auto file = std::filesystem::path(::testing::TempDir()) / "results.jsonl";
  std::filesystem::remove(file);
  CaseLog log(file);
  log.append(
      result("runc", EnforcerMode::kOff, std::string(), Verdict::kAllowed, Verdict::kAllowed));
  log.append(
      result("runc", EnforcerMode::kBlock, std::string(), Verdict::kAllowed, Verdict::kAllowed));
  // Read while the log is still open: each line is on disk as soon as append returns.
  std::ifstream in(file);
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) {
    EXPECT_EQ(nlohmann::json::parse(line)["verdict"], "allowed");
    ++lines;
  }
  EXPECT_EQ(lines, 2);
}

}  // namespace
}  // namespace armorbench
