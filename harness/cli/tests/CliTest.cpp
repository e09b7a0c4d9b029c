// The CLI contract, exercised on the real binary: exit codes and located error messages.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "armorbench/base/Subprocess.h"

namespace armorbench {
namespace {
namespace fs = std::filesystem;

const fs::path kScenarios = fs::path(ARMORBENCH_TEST_DATA) / "scenarios";

CommandResult armorbench(std::vector<std::string> args) {
  args.insert(args.begin(), ARMORBENCH_BIN);
  return run_command(args, std::chrono::seconds(60));
}

TEST(Cli, VersionExitsZero) {
  const auto r = armorbench({"version"});
  EXPECT_EQ(r.status.code, 0);
  EXPECT_EQ(r.out.rfind("armorbench ", 0), 0u);
}

TEST(Cli, UnknownCommandAndOptionAreUsageErrors) {
  EXPECT_EQ(armorbench({"frobnicate"}).status.code, 4);
  EXPECT_EQ(armorbench({"run", "--no-such-option", "x.toml"}).status.code, 4);
  EXPECT_EQ(armorbench({}).status.code, 4);
}

// compare: exit 1 on a regression, 0 without, 4 on a document that is not results.json; the
// Markdown names the weakened case run.
TEST(Cli, CompareExitsOneOnARegressionAndFourOnBadInput) {
  const fs::path dir = fs::path(::testing::TempDir()) / "cli-compare";
  fs::create_directories(dir);
  const auto write = [&](const std::string& name, const std::string& verdict) {
    std::ofstream(dir / name) << R"({"schema": 1, "cases": [{"scenario": "s", "case": "c",
        "target": "runc", "enforcer_mode": "block", "verdict": ")"
                              << verdict << R"("}]})";
    return (dir / name).string();
  };
  const std::string base = write("base.json", "blocked"), same = write("same.json", "blocked"),
                    weaker = write("weaker.json", "reached");
  EXPECT_EQ(armorbench({"compare", base, same}).status.code, 0);
  const auto r = armorbench({"compare", base, weaker});
  EXPECT_EQ(r.status.code, 1) << r.err;
  EXPECT_NE(r.out.find("| s/c[runc/block] | blocked | reached |"), std::string::npos) << r.out;
  std::ofstream(dir / "not.json") << "{\"hello\": 1}";
  EXPECT_EQ(armorbench({"compare", base, (dir / "not.json").string()}).status.code, 4);
  EXPECT_EQ(armorbench({"compare", base, (dir / "missing.json").string()}).status.code, 4);
  EXPECT_EQ(armorbench({"compare", base}).status.code, 4);
  EXPECT_EQ(armorbench({"compare", base, same, "--max-slowdown", "fast"}).status.code, 4);
  // A shard of nothing is not mergeable: merge wants every shard of a sharded run.
  EXPECT_EQ(armorbench({"merge", base}).status.code, 4);
}

// report re-renders a saved run's document formats; verify checks a bundle. Bad input is 4, a
// bundle that does not verify 1; a bad --sign-key fails before anything runs.
TEST(Cli, ReportRendersASavedRunAndVerifyJudgesBundles) {
  const fs::path dir = fs::path(::testing::TempDir()) / "cli-report";
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir / "results.json") << R"({"schema": 1, "run": {"id": "abcd0123",
      "started": "2026-12-04T10:00:00Z", "finished": "2026-12-04T10:01:00Z"},
      "scenarios": [{"name": "s", "file": "nowhere/s.toml", "controls": ["SI-3"]}],
      "cases": [{"scenario": "s", "case": "c", "target": "runc", "enforcer_mode": "block",
                 "attack": "pickle-injection", "verdict": "reached", "expected": "blocked",
                 "passed": false, "line": 7, "scenario_file": "nowhere/s.toml"}],
      "summary": {"exit_code": 1}})";
  const auto r = armorbench({"report", (dir / "results.json").string()});
  EXPECT_EQ(r.status.code, 0) << r.err;
  for (const char* file :
       {"report.html", "results.sarif", "assessment-results.json", "statement.intoto.json"})
    EXPECT_TRUE(fs::is_regular_file(dir / file)) << file;
  const auto only = armorbench({"report", (dir / "results.json").string(), "--format", "sarif",
                                "--out", (dir / "only").string()});
  EXPECT_EQ(only.status.code, 0) << only.err;
  EXPECT_TRUE(fs::is_regular_file(dir / "only/results.sarif"));
  EXPECT_FALSE(fs::exists(dir / "only/report.html"));
  EXPECT_EQ(
      armorbench({"report", (dir / "results.json").string(), "--format", "junit"}).status.code, 4);
  std::ofstream(dir / "not.json") << "{\"hello\": 1}";
  EXPECT_EQ(armorbench({"report", (dir / "not.json").string()}).status.code, 4);

  const auto not_bundle = armorbench({"verify", dir.string()});
  EXPECT_EQ(not_bundle.status.code, 4);
  EXPECT_NE(not_bundle.err.find("not an evidence bundle"), std::string::npos) << not_bundle.err;
  fs::create_directories(dir / "b");
  std::ofstream(dir / "b/a.txt") << "a";
  std::ofstream(dir / "b/SHA256SUMS")
      << "0000000000000000000000000000000000000000000000000000000000000000  a.txt\n";
  const auto bad = armorbench({"verify", (dir / "b").string()});
  EXPECT_EQ(bad.status.code, 1);
  EXPECT_NE(bad.out.find("FAILED changed: a.txt"), std::string::npos) << bad.out;
  std::ofstream(dir / "key.pem") << "not a key";
  const auto key =
      armorbench({"run", (kScenarios / "valid.toml").string(), "--bundle",
                  (dir / "bundle").string(), "--sign-key", (dir / "key.pem").string()});
  EXPECT_EQ(key.status.code, 4);
  EXPECT_NE(key.err.find("key.pem: not a PEM private key"), std::string::npos) << key.err;
  EXPECT_EQ(armorbench({"run", (kScenarios / "valid.toml").string(), "--sign-key",
                        (dir / "key.pem").string()})
                .status.code,
            4);
}

TEST(Cli, BadShardAndGateOverridesAreUsageErrors) {
  const std::string valid = (kScenarios / "valid.toml").string();
  const auto shard = armorbench({"run", valid, "--shard", "3/2"});
  EXPECT_EQ(shard.status.code, 4);
  EXPECT_NE(shard.err.find("--shard 3/2"), std::string::npos) << shard.err;
  const auto gate = armorbench({"run", valid, "--gate", "max_overhead_p50=fast"});
  EXPECT_EQ(gate.status.code, 4);
  EXPECT_NE(gate.err.find("--gate"), std::string::npos) << gate.err;
}

TEST(Cli, ValidateAcceptsAValidScenario) {
  const auto r = armorbench({"validate", (kScenarios / "valid.toml").string()});
  EXPECT_EQ(r.status.code, 0) << r.err;
  EXPECT_NE(r.out.find("3 case(s)"), std::string::npos) << r.out;
}

TEST(Cli, InvalidScenarioExitsFourWithFileLineColumn) {
  const auto r = armorbench({"validate", (kScenarios / "bad-unknown-key.toml").string()});
  EXPECT_EQ(r.status.code, 4);
  EXPECT_NE(r.err.find("bad-unknown-key.toml:9:1: case[0]: unknown key 'reqests'; did you mean "
                       "'requests'?"),
            std::string::npos)
      << r.err;
}

TEST(Cli, RunOnInvalidInputWritesNothing) {
  const fs::path out = fs::path(::testing::TempDir()) / "cli-run-out";
  fs::remove_all(out);
  const auto r =
      armorbench({"run", (kScenarios / "bad-type.toml").string(), "--out", out.string()});
  EXPECT_EQ(r.status.code, 4);
  EXPECT_FALSE(fs::exists(out)) << "a failed validation must not leave a half-written --out";
}

TEST(Cli, ListShowsPositiveControlsFirst) {
  const auto r =
      armorbench({"list", (kScenarios / "valid.toml").string(), "--target", "runc-host"});
  EXPECT_EQ(r.status.code, 0) << r.err;
  const auto off = r.out.find("complete/dump [runc-host/off]");
  const auto block = r.out.find("complete/dump [runc-host/block]");
  ASSERT_NE(off, std::string::npos) << r.out;
  ASSERT_NE(block, std::string::npos) << r.out;
  EXPECT_LT(off, block);
}

TEST(Cli, ListShowsReferenceControlsAndPerTargetExpectations) {
  const auto r = armorbench({"list", (kScenarios / "kata-ci.toml").string()});
  EXPECT_EQ(r.status.code, 0) << r.err;
  EXPECT_NE(r.out.find("kata-ci/os-system [reference-runc/off]  (reference control)  expect "
                       "reached"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("kata-ci/host-core-dump [kata/block]  expect reached"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("kata-ci/host-core-dump [cvm/block]  expect prevented"), std::string::npos)
      << r.out;
}

TEST(Cli, UnknownFormatIsRejected) {
  const auto r = armorbench({"run", (kScenarios / "valid.toml").string(), "--format", "pdf"});
  EXPECT_EQ(r.status.code, 4);
  EXPECT_NE(r.err.find("unknown format 'pdf'"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace armorbench
