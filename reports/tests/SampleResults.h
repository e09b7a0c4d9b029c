// A hand-built run for the report tests: two scenarios with controls, every verdict the writers
// treat differently (blocked, reached in block mode, prevented, not run, invalid), latencies,
// attributions, model digests and timings, as results.json holds them.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "armorbench/harness/Results.h"

namespace armorbench::reports::samples {

using nlohmann::json;

inline CaseResult make_case(const std::string& scenario, const std::string& name,
                            const std::string& target, EnforcerMode mode, Verdict verdict,
                            Verdict expected, const std::string& attack, int line) {
  CaseResult c;
  c.scenario = scenario;
  c.scenario_file = "scenarios/" + scenario + ".toml";
  c.where = {c.scenario_file, line, 1};
  c.case_name = name;
  c.target = target;
  c.target_kind = target == "kata" ? "kata" : "runc";
  c.mode = mode;
  c.role = mode == EnforcerMode::kOff ? (attack.empty() ? "benign" : "positive-control")
                                      : (attack.empty() ? "benign" : "enforced");
  c.attack = attack;
  c.verdict = verdict;
  c.expected = expected;
  c.reason = "observed <" + name + "> & \"so\"";
  c.evidence.push_back({"model",
                        "model file model.pt sha256 " + std::string(64, 'a'),
                        {{"file", "model.pt"},
                         {"loader", "torch"},
                         {"sha256", std::string(63, 'a') + std::to_string(line % 10)},
                         {"bytes", 1234}}});
  c.evidence.push_back({"objective", "marker absent <script>alert(1)</script>", json::object()});
  c.timings = {{"create_ms", 40 + line}, {"ready_ms", 900 + line}};
  if (target == "kata") c.timings["boot_ms"] = 30000;
  if (!attack.empty()) {
    c.objective = {{"type", "file_created"}, {"path", "/tmp/marker"}};
    c.attribution = {{"attributed", json::array({{{"by", "enforcer"},
                                                  {"operation", "exec"},
                                                  {"resource", "/bin/sh"},
                                                  {"rule", "block-shells"},
                                                  {"refused", true},
                                                  {"detail", "EPERM"}}})},
                     {"unattributed", 0},
                     {"events_dropped", 0}};
    c.service = Availability{true, "answered 8 of 8"};
  } else {
    std::vector<double> samples;
    for (int i = 0; i < 50; ++i)
      samples.push_back(1000 + 10 * i + (mode == EnforcerMode::kBlock ? 30 : 0));
    c.latency = LatencyStats::from_samples(samples);
  }
  c.enforcer = {{"backend", mode == EnforcerMode::kOff ? "" : "tracepoint"}, {"location", "host"}};
  c.duration_s = 2.0;
  return c;
}

// A run of two scenarios: pickle injection on runc (one blocked, one reached in block mode, a
// benign model) and a VM scenario (prevented on kata, not run on cvm, one invalid).
inline json sample_results(const std::string& run_id = "0badcafe") {
  RunResults r;
  r.run = {{"id", run_id},
           {"started", "2026-12-04T10:00:00Z"},
           {"finished", "2026-12-04T10:20:00Z"},
           {"tool", {{"name", "armorbench"}, {"version", "0.9.0"}}}};
  r.host = {{"kernel", "6.1.0 x86_64"}, {"lsm", "lockdown,capability,landlock"}};
  r.scenarios = {{{"name", "pickle"},
                  {"file", "scenarios/pickle.toml"},
                  {"controls", {"SI-3", "CM-7(2)", "OWASP-LLM05"}},
                  {"policies", {"scenarios/policies/p.yaml"}}},
                 {{"name", "vm"},
                  {"file", "scenarios/vm.toml"},
                  {"controls", {"SC-28", "OWASP-LLM10"}},
                  {"policies", json::array()}}};
  using V = Verdict;
  using M = EnforcerMode;
  r.cases = {
      make_case("pickle", "benign", "runc", M::kOff, V::kAllowed, V::kAllowed, "", 10),
      make_case("pickle", "benign", "runc", M::kBlock, V::kAllowed, V::kAllowed, "", 10),
      make_case("pickle", "os-system", "runc", M::kOff, V::kReached, V::kReached,
                "pickle-injection", 20),
      make_case("pickle", "os-system", "runc", M::kBlock, V::kBlocked, V::kBlocked,
                "pickle-injection", 20),
      make_case("pickle", "side-door", "runc", M::kOff, V::kReached, V::kReached, "evasion", 30),
      make_case("pickle", "side-door", "runc", M::kAudit, V::kReached, V::kDetected, "evasion", 30),
      make_case("pickle", "side-door", "runc", M::kBlock, V::kReached, V::kReached, "evasion", 30),
      make_case("vm", "dump", "kata", M::kOff, V::kPrevented, V::kPrevented, "memory-dump", 40),
      make_case("vm", "dump", "cvm", M::kOff, V::kNotRun, V::kPrevented, "memory-dump", 40),
      make_case("vm", "mine", "kata", M::kBlock, V::kInvalid, V::kBlocked, "cryptominer", 50),
  };
  r.summary = summarize(r.cases);
  r.overhead = overhead_figures(r.cases);
  r.time = time_breakdown(r.cases);
  r.gates = {{"pickle", "min_block_rate[runc]", false, true, "0.50 < 0.80"}};
  r.exit_code = ExitCode::kGateFailed;
  return r.to_json();
}

}  // namespace armorbench::reports::samples
