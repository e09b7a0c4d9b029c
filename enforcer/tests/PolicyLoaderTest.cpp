// Policy files: every enforced field of KubeArmorPolicy YAML and of the native TOML form, and a
// corpus of broken files each naming the error it must produce ("# expect: file:line:col: ...").
#include "armorbench/enforcer/Policy.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>

namespace armorbench::enforcer {
namespace {
namespace fs = std::filesystem;

const fs::path kData = fs::path(ARMORBENCH_ENFORCER_TEST_DATA);

TEST(PolicyLoader, ReadsEveryEnforcedField) {
  const auto policies = load_policy_file((kData / "full.yaml").string());
  ASSERT_EQ(policies.size(), 2u);
  const Policy& p = policies[0];
  EXPECT_EQ(p.name, "full");
  EXPECT_EQ(p.kind, "KubeArmorPolicy");

  ASSERT_EQ(p.process.size(), 3u);
  EXPECT_EQ(p.process[0].path, "/usr/bin/python3.11");
  EXPECT_EQ(p.process[0].action, Action::kAllow);  // rule-level action wins
  EXPECT_EQ(p.process[1].action, Action::kAudit);  // category-level action
  EXPECT_EQ(p.process[1].from_source, (std::vector<std::string>{"/bin/bash"}));
  EXPECT_TRUE(p.process[2].is_directory);
  EXPECT_TRUE(p.process[2].recursive);
  EXPECT_EQ(p.process[2].labels.severity, 8);  // rule-level severity
  EXPECT_EQ(p.process[0].labels.severity, 5);  // spec-level severity inherited
  EXPECT_EQ(p.process[0].labels.tags, (std::vector<std::string>{"spec-tag"}));
  EXPECT_EQ(p.process[0].where.line, 17);

  ASSERT_EQ(p.file_rules.size(), 2u);
  EXPECT_TRUE(p.file_rules[0].read_only);
  EXPECT_EQ(p.file_rules[0].action, Action::kBlock);  // spec-level action
  EXPECT_EQ(p.file_rules[1].labels.message, "secret read");
  EXPECT_EQ(p.file_rules[1].labels.tags, (std::vector<std::string>{"secrets"}));

  ASSERT_EQ(p.protocols.size(), 2u);
  EXPECT_EQ(p.protocols[0].protocol, "tcp");  // case-insensitive, as the CRD allows
  EXPECT_EQ(p.protocols[1].action, Action::kAudit);
  ASSERT_EQ(p.capabilities.size(), 2u);
  EXPECT_EQ(p.capabilities[0].number, 13);  // net_raw
  EXPECT_EQ(p.capabilities[1].capability, "sys_admin");
  EXPECT_EQ(p.capabilities[1].number, 21);

  EXPECT_EQ(policies[1].name, "second");
  EXPECT_EQ(policies[1].file_rules[0].path, "/etc/passwd");
}

TEST(PolicyLoader, ReadsNativeToml) {
  const auto policies = load_policy_file((kData / "native.toml").string());
  ASSERT_EQ(policies.size(), 1u);
  const Policy& p = policies[0];
  EXPECT_EQ(p.kind, "ArmorBenchPolicy");
  ASSERT_EQ(p.process.size(), 1u);
  EXPECT_TRUE(p.process[0].is_directory);
  EXPECT_FALSE(p.process[0].recursive);
  EXPECT_EQ(p.process[0].action, Action::kAllow);
  ASSERT_EQ(p.file_rules.size(), 1u);
  EXPECT_TRUE(p.file_rules[0].read_only);
  EXPECT_EQ(p.file_rules[0].from_source, (std::vector<std::string>{"/usr/bin/cat"}));
  EXPECT_EQ(p.file_rules[0].labels.severity, 3);
  ASSERT_EQ(p.protocols.size(), 1u);
  EXPECT_EQ(p.protocols[0].protocol, "udp");
  ASSERT_EQ(p.addresses.size(), 1u);
  EXPECT_EQ(p.addresses[0].cidr, "10.0.0.0/8");
  EXPECT_EQ(p.addresses[0].ports, (std::vector<int>{443, 8443}));
  ASSERT_EQ(p.capabilities.size(), 1u);
  EXPECT_EQ(p.capabilities[0].number, 19);
  ASSERT_TRUE(p.memory.has_value());
  EXPECT_EQ(p.memory->allowed_executables, (std::vector<std::string>{"/usr/bin/gdb"}));
}

std::string first_line(const fs::path& file) {
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);
  return line;
}

TEST(PolicyLoader, EveryBrokenPolicyFailsWhereItSays) {
  int checked = 0;
  for (const auto& entry : fs::directory_iterator(kData)) {
    const std::string name = entry.path().filename();
    if (name.rfind("bad-", 0) != 0) continue;
    const std::string header = first_line(entry.path());
    ASSERT_EQ(header.rfind("# expect: ", 0), 0u) << name;
    const std::string expected = header.substr(10);
    try {
      load_policy_file(entry.path().string());
      ADD_FAILURE() << name << " loaded without error";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInput) << name;
      std::string message = e.describe();
      const std::string dir = kData.string() + "/";
      if (message.rfind(dir, 0) == 0) message.erase(0, dir.size());
      EXPECT_EQ(message.rfind(expected, 0), 0u)
          << name << "\n  got:      " << message << "\n  expected: " << expected;
    }
    ++checked;
  }
  EXPECT_GE(checked, 11);
}

TEST(PolicyLoader, UnknownExtensionAndMissingFileAreInputErrors) {
  EXPECT_THROW(load_policy_file("/no/such/policy.yaml"), Error);
  EXPECT_THROW(load_policy_file((kData / "..").string()), Error);
}

// Anchors and aliases are YAML a policy may use (one fromSource list shared by two rules); what
// the aliases add is bounded, so the same shape nested into a "billion laughs" is refused.
TEST(PolicyLoader, AliasesAreExpandedWithinABound) {
  const fs::path file = fs::path(::testing::TempDir()) / "aliases.yaml";
  const std::string head =
      "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorPolicy\nmetadata:\n  name: a\n";
  std::ofstream(file) << head
                      << "spec:\n  file:\n    matchPaths:\n"
                         "      - path: /etc/shadow\n"
                         "        fromSource: &tools [{ path: /usr/bin/cat }, { path: /bin/ls }]\n"
                         "      - path: /etc/gshadow\n"
                         "        fromSource: *tools\n"
                         "  action: Allow\n";
  const auto policies = load_policy_file(file.string());
  ASSERT_EQ(policies.size(), 1u);
  ASSERT_EQ(policies[0].file_rules.size(), 2u);
  EXPECT_EQ(policies[0].file_rules[1].from_source,
            (std::vector<std::string>{"/usr/bin/cat", "/bin/ls"}));

  // Ten times ten times ... : 10^5 nodes from a few lines.
  std::string bomb = head + "  labels:\n    l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int level = 1; level <= 5; ++level) {
    const std::string previous = "*l" + std::to_string(level - 1);
    bomb += "    l" + std::to_string(level) + ": &l" + std::to_string(level) + " [";
    for (int i = 0; i < 10; ++i) bomb += (i ? ", " : "") + previous;
    bomb += "]\n";
  }
  std::ofstream(file) << bomb << "spec:\n  process:\n    matchPaths: [{ path: /bin/sh }]\n";
  try {
    load_policy_file(file.string());
    ADD_FAILURE() << "an alias bomb loaded";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInput);
    EXPECT_NE(e.describe().find("aliases expand this document by more than 10000 nodes"),
              std::string::npos)
        << e.describe();
    ASSERT_TRUE(e.where());
    EXPECT_EQ(e.where()->line, 9);  // in l3: 110 + 1110 + 8 x 1111 nodes added
  }
}

TEST(PolicyLoader, AKeyGivenTwiceIsRefused) {
  const fs::path file = fs::path(::testing::TempDir()) / "twice.yaml";
  std::ofstream(file) << "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorPolicy\n"
                         "metadata:\n  name: a\nspec:\n  action: Allow\n  action: Block\n"
                         "  process:\n    matchPaths: [{ path: /bin/sh }]\n";
  try {
    load_policy_file(file.string());
    ADD_FAILURE() << "a policy with two actions loaded";
  } catch (const Error& e) {
    EXPECT_EQ(e.describe(), file.string() +
                                ":7:3: KubeArmorPolicy.spec: field 'action' is given twice (first "
                                "at line 6)");
  }
}

// Inputs the fuzzers found (tests/fuzz/regressions/<target>/, README "Sanitizers and fuzzing"):
// each must end as a located input error, promptly: a non-scalar key once escaped as yaml-cpp's
// "bad conversion" (exit 2), and one 313-byte file makes yaml-cpp 0.7 run without end.
TEST(PolicyLoader, FuzzFoundInputsAreInputErrors) {
  int checked = 0;
  for (const auto& [target, suffix] : std::vector<std::pair<std::string, std::string>>{
           {"fuzz_kubearmor_policy", ".yaml"}, {"fuzz_toml_policy", ".toml"}}) {
    const fs::path dir = kData / ".." / "fuzz" / "regressions" / target;
    if (!fs::is_directory(dir)) continue;
    for (const auto& entry : fs::directory_iterator(dir)) {
      const fs::path copy = fs::path(::testing::TempDir()) / ("fuzz-regression" + suffix);
      fs::copy_file(entry.path(), copy, fs::copy_options::overwrite_existing);
      const auto start = std::chrono::steady_clock::now();
      try {
        load_policy_file(copy.string());
        ADD_FAILURE() << entry.path() << " loaded as a policy";
      } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::kInput) << entry.path() << ": " << e.what();
      }
      EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10)) << entry.path();
      ++checked;
    }
  }
  EXPECT_GE(checked, 2);
}

}  // namespace
}  // namespace armorbench::enforcer
