// The attack kinds without a sandbox: each parses its own keys (and refuses others, located),
// declares its objective and the operations a policy must deny, and its objectives observe a
// fake AttackSurface the way they observe a real one.
#include "armorbench/attacks/Attack.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <fstream>
#include <map>

#include "armorbench/attacks/Objectives.h"
#include "armorbench/base/TomlTable.h"

namespace armorbench::attacks {
namespace {
namespace fs = std::filesystem;

std::shared_ptr<const AttackDefinition> parse(const std::string& text,
                                              const AttackParseContext& context = {}) {
  const toml::table declared = toml::parse(text);
  TomlTable table(declared, std::make_shared<const std::string>("kinds-test.toml"), "attack");
  return parse_attack(table, context);
}

// A sandbox stand-in: files it holds, execs it saw, a pid, and a sibling that only records.
class FakeSurface final : public AttackSurface {
 public:
  std::map<std::string, std::string> files;
  std::vector<std::string> execs;
  std::vector<SiblingSpec> siblings;

  std::string host_address() const override { return "127.0.0.1"; }
  std::optional<std::string> read_file(const std::string& path) override {
    auto it = files.find(path);
    return it == files.end() ? std::nullopt : std::optional<std::string>(it->second);
  }
  ModelHolder model_holder() override { return {::getpid(), "this test"}; }
  MemoryDumpInfo dump_memory(const fs::path&) override {
    throw unsupported_error("no hypervisor here");
  }
  CommandResult run_sibling(const SiblingSpec& sibling) override {
    siblings.push_back(sibling);
    CommandResult refused;
    refused.status.code = 2;  // what the dumper exits with when the read is refused
    return refused;
  }
  std::vector<std::string> executed_paths() override { return execs; }
};

TEST(AttackKinds, EveryKindIsRegisteredByName) {
  const auto names = attack_kind_names();
  for (const char* kind : {"pickle-injection", "cryptominer", "memory-dump", "secret-exfiltration",
                           "cuda-abuse", "fork-bomb", "memory-hog", "custom"})
    EXPECT_NE(std::find(names.begin(), names.end(), kind), names.end()) << kind;
}

TEST(AttackKinds, PickleInjectionOwnsItsKeysAndDeclaresTheShellExec) {
  const auto shell = parse("kind = 'pickle-injection'\ngadget = 'os.system'");
  EXPECT_EQ(shell->kind(), "pickle-injection");
  EXPECT_EQ(shell->parameters()["format"], "pt");
  ASSERT_EQ(shell->expected_operations().size(), 1u);
  EXPECT_EQ(shell->expected_operations()[0].operation, Operation::kExec);
  EXPECT_EQ(shell->expected_operations()[0].resource, "/bin/sh");
  EXPECT_EQ(shell->objective()["type"], "file_created");

  const auto beacon = parse("kind = 'pickle-injection'\ngadget = 'builtins.exec'");
  EXPECT_EQ(beacon->parameters()["action"], "connect");
  EXPECT_EQ(beacon->objective()["type"], "connect");
  EXPECT_EQ(beacon->expected_operations()[0].operation, Operation::kConnect);
}

TEST(AttackKinds, UnknownKeysAndKindsAreLocatedInputErrors) {
  try {
    parse("kind = 'pickle-injection'\ngadget = 'os.system'\nmethod = 'ptrace'");
    FAIL() << "a memory-dump key on a pickle-injection was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInput);
    EXPECT_NE(e.describe().find("kinds-test.toml:3"), std::string::npos) << e.describe();
  }
  try {
    parse("kind = 'memory-dumb'\nmethod = 'ptrace'");
    FAIL() << "a misspelt kind was accepted";
  } catch (const Error& e) {
    EXPECT_NE(e.describe().find("did you mean 'memory-dump'"), std::string::npos) << e.describe();
  }
  EXPECT_THROW(parse("kind = 'memory-dump'"), Error);  // method is required
}

TEST(AttackKinds, MemoryDumpDeclaresTheOperationOfItsMethod) {
  EXPECT_EQ(parse("kind = 'memory-dump'\nmethod = 'process_vm_readv'")
                ->expected_operations()[0]
                .operation,
            Operation::kVmRead);
  EXPECT_EQ(parse("kind = 'memory-dump'\nmethod = 'io_uring'")->expected_operations()[0].operation,
            Operation::kProcMem);
  EXPECT_TRUE(parse("kind = 'memory-dump'\nmethod = 'core_dump'")->expected_operations().empty());
}

TEST(AttackKinds, ResourceKindsNeedTheirLimit) {
  const auto bomb = parse("kind = 'fork-bomb'");
  EXPECT_EQ(bomb->required_limit(), "pids");
  EXPECT_THROW(bomb->instantiate({}, ResourceLimits{}), Error);
  ResourceLimits limits;
  limits.pids = 64;
  const auto attack = bomb->instantiate({}, limits);
  EXPECT_EQ(attack->objective()["limit"], 64);
  CgroupStats final;
  EXPECT_TRUE(attack->kernel_denials(final).empty());
  final.pids_max_events = 3;
  ASSERT_EQ(attack->kernel_denials(final).size(), 1u);
  EXPECT_EQ(parse("kind = 'memory-hog'")->required_limit(), "memory");
}

TEST(AttackKinds, CustomNeedsAModelFileAndPicksItsObjective) {
  EXPECT_THROW(parse("kind = 'custom'\nobjective = { type = 'exec', path = '/bin/sh' }"), Error);
  const AttackParseContext with_file{"s.toml", fs::path("/dev/null"), Loader::kTorch};
  const auto exec =
      parse("kind = 'custom'\nobjective = { type = 'exec', path = '/bin/sh' }", with_file);
  EXPECT_EQ(exec->expected_operations()[0].operation, Operation::kExec);
  EXPECT_TRUE(exec->instantiate({}, {})->needs_exec_watch());
  EXPECT_THROW(parse("kind = 'custom'\nobjective = { type = 'exec', path = 'sh' }", with_file),
               Error);  // relative
  const auto connect =
      parse("kind = 'custom'\nobjective = { type = 'connect', port = 4444 }", with_file);
  EXPECT_EQ(connect->expected_operations()[0].resource, "127.0.0.1:4444");
}

TEST(Objectives, MarkerNeedsTheNonceNotJustTheFile) {
  FakeSurface surface;
  MarkerObjective marker("/tmp/m", "nonce-1", "a shell ran");
  EXPECT_FALSE(marker.observe(surface).reached);
  surface.files["/tmp/m"] = "something else";
  const ObjectiveStatus without = marker.observe(surface);
  EXPECT_FALSE(without.reached);
  EXPECT_NE(without.detail.find("without"), std::string::npos) << without.detail;
  surface.files["/tmp/m"] = "nonce-1\n";
  EXPECT_TRUE(marker.observe(surface).reached);
  EXPECT_EQ(marker.sandbox_files(), std::vector<std::string>{"/tmp/m"});
}

TEST(Objectives, ExecIsWhatTheWatchSaw) {
  FakeSurface surface;
  ExecObjective exec("/bin/sh");
  surface.execs = {"/usr/bin/python3"};
  EXPECT_FALSE(exec.observe(surface).reached);
  surface.execs.push_back("/bin/sh");
  EXPECT_TRUE(exec.observe(surface).reached);
}

TEST(Objectives, ResourceCountsComeFromThePayloadsReport) {
  FakeSurface surface;
  ResourceObjective pids(ResourceObjective::Resource::kPids, 64, "/tmp/abx-marker");
  EXPECT_FALSE(pids.observe(surface).reached);
  surface.files["/tmp/abx-marker"] = R"({"forked": 63})";
  EXPECT_FALSE(pids.observe(surface).reached);
  surface.files["/tmp/abx-marker"] = R"({"forked": 64})";
  EXPECT_TRUE(pids.observe(surface).reached);
}

TEST(Objectives, ASiblingDumpRefusedWithExit2IsADenial) {
  FakeSurface surface;
  // The sibling path goes through the surface: the tool is bound in, CAP_SYS_PTRACE is asked.
  // The fake sibling starts nothing, so any file stands in for the built tool.
  const fs::path bin_dir =
      fs::temp_directory_path() / ("kinds-test-bin-" + std::to_string(::getpid()));
  fs::create_directories(bin_dir);
  std::ofstream(bin_dir / "armorbench-memdump") << "stand-in\n";
  // No canary declared: prepare() gives it the served model's own.
  CanaryObjective canary(DumpRequest{"proc_mem", "sibling", ""}, AttackContext{"", bin_dir});
  ModelArtifacts model;
  model.canary_hex = "00112233";
  canary.prepare(model, bin_dir);
  canary.while_serving(surface);
  fs::remove_all(bin_dir);
  ASSERT_EQ(surface.siblings.size(), 1u);
  const auto& argv = surface.siblings[0].argv;
  EXPECT_NE(std::find(argv.begin(), argv.end(), "00112233"), argv.end());
  ASSERT_EQ(surface.siblings[0].binds.size(), 1u);
  EXPECT_EQ(surface.siblings[0].binds[0].first, bin_dir / "armorbench-memdump");
  EXPECT_EQ(surface.siblings[0].capabilities, std::vector<std::string>{"CAP_SYS_PTRACE"});
  EXPECT_EQ(surface.siblings[0].argv[0], "/run/armorbench-memdump");
  EXPECT_FALSE(canary.observe(surface).reached);
  EXPECT_EQ(canary.kernel_denials().size(), 1u);
}

}  // namespace
}  // namespace armorbench::attacks
