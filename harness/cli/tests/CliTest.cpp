// The CLI contract, exercised on the real binary: exit codes and located error messages.
#include <gtest/gtest.h>

#include <filesystem>

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
