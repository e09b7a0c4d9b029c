// The default suite reduced to one case per attack family, run for real on runc and crun
// (privileged, in CI): every verdict is asserted, and what the enforcer recorded is checked
// against what each verdict claims.
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "armorbench/base/Subprocess.h"

namespace armorbench {
namespace {
namespace fs = std::filesystem;

nlohmann::json run_suite(const std::vector<std::string>& scenarios, const std::string& name) {
  const fs::path out = fs::path(::testing::TempDir()) / name;
  fs::remove_all(out);
  std::vector<std::string> argv{ARMORBENCH_BIN, "run"};
  for (const auto& s : scenarios) argv.push_back(std::string(ARMORBENCH_TEST_DATA) + "/scenarios/" + s);
  argv.insert(argv.end(), {"--out", out.string()});
  const CommandResult r = run_command(argv, std::chrono::minutes(20));
  EXPECT_EQ(r.status.code, 0) << r.out << r.err;
  std::ifstream in(out / "results.json");
  return nlohmann::json::parse(in);
}

// "case/mode" -> verdict
std::map<std::string, std::string> verdicts(const nlohmann::json& results) {
  std::map<std::string, std::string> out;
  for (const auto& c : results["cases"])
    out[c["target"].get<std::string>() + ":" + c["case"].get<std::string>() + "/" +
        c["enforcer_mode"].get<std::string>()] = c["verdict"];
  return out;
}

class SuiteEndToEnd : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "privileged test: needs root (runc, crun, BPF, cgroups)";
  }
};

TEST_F(SuiteEndToEnd, EveryAttackFamilyHasItsVerdict) {
  const nlohmann::json results = run_suite({"reduced-suite.toml"}, "reduced-suite");
  const auto v = verdicts(results);
  const std::map<std::string, std::string> expected{
      {"runc:benign/off", "allowed"},          {"runc:benign/audit", "allowed"},
      {"runc:benign/block", "allowed"},        {"runc:os-system/off", "reached"},
      {"runc:os-system/audit", "detected"},    {"runc:os-system/block", "blocked"},
      {"runc:reverse-beacon/off", "reached"},  {"runc:reverse-beacon/audit", "detected"},
      {"runc:reverse-beacon/block", "blocked"}, {"runc:miner/off", "reached"},
      {"runc:miner/audit", "detected"},        {"runc:miner/block", "blocked"},
      {"runc:token/off", "reached"},           {"runc:token/audit", "detected"},
      {"runc:token/block", "blocked"},         {"runc:cuda/off", "reached"},
      {"runc:cuda/audit", "detected"},         {"runc:cuda/block", "blocked"},
      {"runc:dump-proc-mem/off", "reached"},   {"runc:dump-proc-mem/audit", "detected"},
      {"runc:dump-proc-mem/block", "blocked"}, {"runc:dump-io-uring/off", "reached"},
      {"runc:dump-io-uring/audit", "reached"}, {"runc:dump-io-uring/block", "reached"},
      {"runc:fork-bomb/off", "reached"},       {"runc:fork-bomb/audit", "blocked"},
      {"runc:fork-bomb/block", "blocked"},
  };
  EXPECT_EQ(v, expected);

  // What a verdict claims must be in its evidence.
  for (const auto& c : results["cases"]) {
    const std::string verdict = c["verdict"];
    int enforcer_blocks = 0, kernel = 0, objective_seen = 0;
    for (const auto& e : c["evidence"]) {
      if (e["kind"] == "enforcer-event" && e["data"]["action"] == "block") ++enforcer_blocks;
      if (e["kind"] == "kernel") ++kernel;
      if (e["kind"] == "objective") ++objective_seen;
    }
    if (verdict == "blocked") {
      EXPECT_GT(enforcer_blocks + kernel, 0) << c.dump(2);
    }
    if (c["role"] == "positive-control") {
      EXPECT_EQ(c["enforcer"].value("events", 0), 0) << c.dump(2);
    }
    if (c["attack"].is_string()) {
      EXPECT_GT(objective_seen, 0) << c.dump(2);
    }
  }
  // The summary the gates read.
  for (const auto& s : results["summary"]["by_target_mode"]) {
    if (s["enforcer_mode"] == "block") {
      EXPECT_NEAR(s["block_rate"].get<double>(), 7.0 / 8.0, 1e-9);  // all but io_uring
      EXPECT_EQ(s["false_positive_rate"], 0.0);
    }
  }
}

TEST_F(SuiteEndToEnd, CrunRunsTheSameCases) {
  const auto v = verdicts(run_suite({"crun-smoke.toml"}, "crun-smoke"));
  const std::map<std::string, std::string> expected{{"crun:benign/off", "allowed"},
                                                    {"crun:benign/block", "allowed"},
                                                    {"crun:os-system/off", "reached"},
                                                    {"crun:os-system/block", "blocked"}};
  EXPECT_EQ(v, expected);
}

}  // namespace
}  // namespace armorbench
