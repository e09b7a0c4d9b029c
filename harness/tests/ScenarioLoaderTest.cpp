// Scenario loading: a complete valid file, and a corpus of broken files each of which names the
// error it must produce (first line "# expect: file:line:column: message").
#include "armorbench/harness/ScenarioLoader.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace armorbench {
namespace {
namespace fs = std::filesystem;

const fs::path kDir = fs::path(ARMORBENCH_TEST_DATA) / "scenarios";

TEST(ScenarioLoader, ParsesEveryField) {
  const Scenario s = load_scenario(kDir / "valid.toml");
  EXPECT_EQ(s.name, "complete");
  EXPECT_EQ(s.controls, (std::vector<std::string>{"SI-3", "SC-39"}));
  ASSERT_EQ(s.targets.size(), 3u);
  const TargetSpec& runc = s.targets[0];
  EXPECT_EQ(runc.kind, TargetKind::kRunc);
  EXPECT_EQ(runc.network, NetworkMode::kNone);
  EXPECT_DOUBLE_EQ(*runc.limits.cpus, 0.5);
  EXPECT_EQ(*runc.limits.memory_bytes, 256u << 20);
  EXPECT_EQ(*runc.limits.pids, 64);
  EXPECT_EQ(runc.where.line, 7);
  EXPECT_EQ(s.targets[1].kind, TargetKind::kKata);
  EXPECT_EQ(s.targets[1].vm.memory_mib, 2048u);
  EXPECT_EQ(s.targets[1].vm.vcpus, 2);
  EXPECT_EQ(s.targets[1].vm.accel, "tcg");
  EXPECT_EQ(s.targets[1].vm.boot_timeout, std::chrono::seconds(90));
  EXPECT_FALSE(s.targets[1].vm.snapshot) << "snapshot = false: every case boots cold";
  EXPECT_EQ(s.targets[2].vm.launch_security, "sev-snp");
  EXPECT_FALSE(s.targets[2].vm.snapshot) << "a confidential guest is never restored by the host";

  EXPECT_EQ(s.enforcer.policies, (std::vector<fs::path>{kDir / "policy.yaml"}));
  EXPECT_EQ(s.enforcer.modes, (std::vector<EnforcerMode>{EnforcerMode::kBlock, EnforcerMode::kOff,
                                                         EnforcerMode::kAudit}));
  EXPECT_EQ(s.enforcer.backend, Backend::kTracepoint);

  ASSERT_EQ(s.cases.size(), 3u);
  const CaseSpec& benign = s.cases[0];
  EXPECT_FALSE(benign.is_attack());
  EXPECT_EQ(benign.model.layers, (std::vector<int>{8, 16, 4}));
  EXPECT_EQ(benign.loader, Loader::kSafetensors);
  EXPECT_EQ(benign.requests, 5);
  EXPECT_EQ(benign.warmup, 1);
  EXPECT_EQ(benign.timeouts.ready, std::chrono::seconds(45)) << "'timeout' is the ready limit";
  EXPECT_EQ(benign.timeouts.create, std::chrono::minutes(4)) << "the scenario's [timeouts]";
  EXPECT_EQ(benign.timeouts.request, std::chrono::seconds(10));
  EXPECT_EQ(benign.timeouts.objective, StepLimits{}.objective) << "the default";
  EXPECT_EQ(benign.settle, std::chrono::milliseconds(500));
  EXPECT_EQ(benign.requires_features, (std::vector<std::string>{"root", "runc"}));

  const CaseSpec& dump = s.cases[1];
  ASSERT_TRUE(dump.is_attack());
  EXPECT_EQ(dump.timeouts.ready, std::chrono::seconds(50)) << "the case's own over the scenario's";
  EXPECT_EQ(dump.timeouts.enforcer_load, std::chrono::seconds(20));
  EXPECT_EQ(dump.timeouts.objective, std::chrono::seconds(30));
  EXPECT_EQ(dump.timeouts.teardown, std::chrono::seconds(15));
  EXPECT_EQ(dump.timeouts.create, std::chrono::minutes(4)) << "what the case does not set";
  EXPECT_EQ(s.cases[2].timeouts.ready, StepLimits{}.ready);
  EXPECT_EQ(dump.attack->kind(), "memory-dump");
  EXPECT_EQ(dump.attack->parameters()["method"], "proc_mem");
  EXPECT_EQ(dump.attack->parameters()["from"], "sibling");
  EXPECT_EQ(expected_verdict(dump, EnforcerMode::kBlock), Verdict::kReached);
  EXPECT_EQ(expected_verdict(dump, EnforcerMode::kAudit), Verdict::kDetected);
  EXPECT_EQ(expected_verdict(dump, EnforcerMode::kOff), Verdict::kReached);
  EXPECT_EQ(expected_verdict(benign, EnforcerMode::kBlock), Verdict::kAllowed);

  const CaseSpec& exec = s.cases[2];
  ASSERT_TRUE(exec.is_attack());
  EXPECT_EQ(exec.attack->parameters()["gadget"], "builtins.exec");
  EXPECT_EQ(exec.attack->parameters()["action"], "connect");  // the exec gadget's default action
  EXPECT_EQ(exec.attack->parameters()["format"], "pickle");

  EXPECT_DOUBLE_EQ(*s.gate.min_block_rate, 0.9);
  EXPECT_DOUBLE_EQ(*s.gate.max_false_positive_rate, 0.0);
  EXPECT_EQ(*s.gate.max_invalid, 0);
  EXPECT_DOUBLE_EQ(*s.gate.max_overhead_p50, 1.05);
  EXPECT_DOUBLE_EQ(*s.gate.max_overhead_p99, 1.25);
  EXPECT_FALSE(s.gate.fail_inconclusive);
  EXPECT_EQ(*s.gate.require_backend, "tracepoint");
}

std::string first_line(const fs::path& file) {
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);
  return line;
}

TEST(ScenarioLoader, GateOverridesFromTheCommandLineAreCheckedLikeTheFile) {
  GateSpec gate;
  gate.min_block_rate = 0.9;
  const GateSpec o = with_gate_overrides(
      gate, {"max_overhead_p50=1.1", "require_backend=bpf-lsm", "on_inconclusive=pass"});
  EXPECT_DOUBLE_EQ(*o.min_block_rate, 0.9);  // untouched
  EXPECT_DOUBLE_EQ(*o.max_overhead_p50, 1.1);
  EXPECT_EQ(*o.require_backend, "bpf-lsm");
  EXPECT_FALSE(o.fail_inconclusive);
  EXPECT_TRUE(with_gate_overrides(gate, {"max_overhead_p50=1.1"}).fail_inconclusive);
  for (const std::string bad :
       {"min_block_rate=2", "no_such_gate=1", "max_invalid", "=1", "require_backend=ebpf"}) {
    try {
      with_gate_overrides(gate, {bad});
      ADD_FAILURE() << bad << " was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInput) << bad;
      EXPECT_NE(e.describe().find("--gate"), std::string::npos) << e.describe();
    }
  }
}

TEST(ScenarioLoader, EveryBrokenFileFailsWhereItSays) {
  int checked = 0;
  for (const auto& entry : fs::directory_iterator(kDir)) {
    const std::string name = entry.path().filename();
    if (name.rfind("bad-", 0) != 0) continue;
    const std::string header = first_line(entry.path());
    ASSERT_EQ(header.rfind("# expect: ", 0), 0u) << name << " lacks its expectation line";
    const std::string expected = header.substr(10);
    try {
      load_scenario(entry.path());
      ADD_FAILURE() << name << " loaded without error";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInput) << name;
      EXPECT_EQ(exit_code_for(e.kind()), ExitCode::kInvalidInput);
      std::string message = e.describe();
      const std::string dir = kDir.string() + "/";
      if (message.rfind(dir, 0) == 0) message.erase(0, dir.size());
      EXPECT_EQ(message.rfind(expected, 0), 0u)
          << name << "\n  got:      " << message << "\n  expected: " << expected;
    }
    ++checked;
  }
  EXPECT_GE(checked, 12);
}

// An attack's model file is the attack, well formed or not: a pickle cut short after its gadget
// runs the gadget before the loader fails (an evasion of scanners that want a whole stream), so
// it is served, not refused as bad input like a declared model's truncated file; an empty one
// attacks nothing.
TEST(ScenarioLoader, AnAttacksMalformedModelFileIsServedAsItIs) {
  const fs::path dir = fs::path(::testing::TempDir()) / "attack-model-file";
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir / "cut.pkl") << "cos\nsystem\n(S'true'\ntR";  // no STOP opcode
  std::ofstream(dir / "empty.pkl");
  const auto scenario = [&](const std::string& model) {
    std::ofstream(dir / "s.toml") << "[scenario]\nname = \"s\"\n[[target]]\nname = \"t\"\n"
                                     "kind = \"runc\"\n[[case]]\nname = \"c\"\nmodel = { file = \""
                                  << model
                                  << "\" }\nloader = \"pickle\"\nattack = { kind = \"custom\", "
                                     "objective = { type = \"exec\", path = \"/bin/sh\" } }\n";
    return dir / "s.toml";
  };
  const Scenario s = load_scenario(scenario("cut.pkl"));
  EXPECT_EQ(s.cases.at(0).model.file, dir / "cut.pkl");
  try {
    load_scenario(scenario("empty.pkl"));
    ADD_FAILURE() << "an empty attack file was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInput);
    EXPECT_NE(e.describe().find("s.toml:8:"), std::string::npos) << e.describe();
    EXPECT_NE(e.describe().find("is empty: there is no attack in it"), std::string::npos)
        << e.describe();
  }
}

TEST(ScenarioLoader, DirectoryMeansEveryTomlFileSorted) {
  const fs::path dir = fs::path(::testing::TempDir()) / "suite";
  fs::create_directories(dir);
  for (const char* name : {"b", "a"}) {
    std::ofstream(dir / (std::string(name) + ".toml"))
        << "[scenario]\nname = \"" << name << "\"\n[[target]]\nname = \"t\"\nkind = \"runc\"\n"
        << "[[case]]\nname = \"c\"\n";
  }
  std::ofstream(dir / "notes.txt") << "not a scenario";
  const auto scenarios = load_scenarios({dir.string()});
  ASSERT_EQ(scenarios.size(), 2u);
  EXPECT_EQ(scenarios[0].name, "a");
  EXPECT_EQ(scenarios[1].name, "b");
}

TEST(ScenarioLoader, MissingPathIsAnInputError) {
  try {
    load_scenarios({"/no/such/scenario.toml"});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInput);
    EXPECT_NE(std::string(e.what()).find("does not exist"), std::string::npos);
  }
}

}  // namespace
}  // namespace armorbench
