// The kata target end to end on TCG (privileged, in CI): the guest boots, serves the benign model
// correctly, its bpf-lsm enforcer refuses the pickle gadget's exec with EPERM, the host's dump of
// guest memory finds the weights' canary, a confidential-VM target is not run on this host with
// libvirt's evidence, and no domain is left behind.
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "armorbench/base/Subprocess.h"

namespace armorbench {
namespace {
namespace fs = std::filesystem;

const nlohmann::json* find_case(const nlohmann::json& results, const std::string& target,
                                const std::string& name, const std::string& mode) {
  for (const auto& c : results["cases"])
    if (c["target"] == target && c["case"] == name && c["enforcer_mode"] == mode) return &c;
  return nullptr;
}

TEST(KataEndToEnd, GuestEnforcementAndHostDumpOnTcg) {
  ASSERT_EQ(::geteuid(), 0u) << "privileged test: needs root (libvirt, QEMU, BPF in the guest)";
  const fs::path out = fs::path(::testing::TempDir()) / "kata-ci";
  fs::remove_all(out);
  const CommandResult run = run_command(
      {ARMORBENCH_BIN, "run", std::string(ARMORBENCH_TEST_DATA) + "/scenarios/kata-ci.toml",
       "--out", out.string()},
      std::chrono::minutes(30));
  ASSERT_EQ(run.status.code, 0) << run.out << run.err;
  std::ifstream in(out / "results.json");
  const nlohmann::json results = nlohmann::json::parse(in);

  const auto* benign = find_case(results, "kata", "benign", "block");
  ASSERT_NE(benign, nullptr);
  EXPECT_EQ((*benign)["verdict"], "allowed") << benign->dump(2);
  EXPECT_EQ((*benign)["latency"]["count"], 8);
  EXPECT_EQ((*benign)["enforcer"]["backend"], "bpf-lsm");
  EXPECT_NE((*benign)["enforcer"]["location"].get<std::string>().find("guest kernel"),
            std::string::npos);
  EXPECT_GT((*benign)["timings"]["boot_ms"].get<double>(), 0);
  EXPECT_TRUE((*benign)["timings"].contains("restore_ms"))
      << "kata restores a snapshot by default: " << (*benign)["timings"].dump();

  const auto* control = find_case(results, "kata", "os-system", "off");
  ASSERT_NE(control, nullptr);
  EXPECT_EQ((*control)["verdict"], "reached") << control->dump(2);
  const auto* blocked = find_case(results, "kata", "os-system", "block");
  ASSERT_NE(blocked, nullptr);
  EXPECT_EQ((*blocked)["verdict"], "blocked") << blocked->dump(2);
  bool eperm_event = false;
  for (const auto& e : (*blocked)["evidence"])
    if (e["kind"] == "enforcer-event" && e["data"]["backend"] == "bpf-lsm" &&
        e["data"]["enforcement"] == "eperm" && e["data"]["operation"] == "exec")
      eperm_event = true;
  EXPECT_TRUE(eperm_event) << blocked->dump(2);

  // A change the tracepoint backend can only kill after: refused before it happens, the token
  // as planted, the server still serving.
  const auto* truncated = find_case(results, "kata", "truncate-token", "off");
  ASSERT_NE(truncated, nullptr);
  EXPECT_EQ((*truncated)["verdict"], "reached") << truncated->dump(2);
  const auto* refused = find_case(results, "kata", "truncate-token", "block");
  ASSERT_NE(refused, nullptr);
  EXPECT_EQ((*refused)["verdict"], "blocked") << refused->dump(2);
  EXPECT_EQ((*refused)["service"]["kept"], true) << (*refused)["service"];
  bool truncate_refused = false;
  for (const auto& e : (*refused)["evidence"])
    truncate_refused |= e["kind"] == "enforcer-event" && e["data"]["backend"] == "bpf-lsm" &&
                        e["data"]["enforcement"] == "eperm" &&
                        e["data"]["operation"] == "setattr" && e["data"]["change"] == "truncate";
  EXPECT_TRUE(truncate_refused) << refused->dump(2);

  for (const char* mode : {"off", "block"}) {
    const auto* dump = find_case(results, "kata", "host-core-dump", mode);
    ASSERT_NE(dump, nullptr);
    EXPECT_EQ((*dump)["verdict"], "reached") << dump->dump(2);
  }

  for (const char* name : {"benign", "os-system", "host-core-dump"}) {
    const auto* cvm = find_case(results, "cvm", name, "block");
    ASSERT_NE(cvm, nullptr);
    EXPECT_EQ((*cvm)["verdict"], "not-run");
    EXPECT_NE((*cvm)["reason"].get<std::string>().find("sev"), std::string::npos)
        << (*cvm)["reason"];
  }

  const CommandResult domains = run_command(
      {"virsh", "-c", "qemu:///system", "list", "--all", "--name"}, std::chrono::seconds(30));
  EXPECT_EQ(domains.out.find("ab-"), std::string::npos) << "a domain was left behind:\n"
                                                        << domains.out;
}

// `snapshot = false`: every case boots cold (the path the snapshot replaces, kept working), with
// the verdicts of the restored guests.
TEST(KataEndToEnd, SnapshotOffBootsEveryCaseColdWithTheSameVerdicts) {
  ASSERT_EQ(::geteuid(), 0u) << "privileged test: needs root (libvirt, QEMU, BPF in the guest)";
  const fs::path out = fs::path(::testing::TempDir()) / "kata-cold";
  fs::remove_all(out);
  const CommandResult run = run_command(
      {ARMORBENCH_BIN, "run", std::string(ARMORBENCH_TEST_DATA) + "/scenarios/kata-cold-ci.toml",
       "--out", out.string()},
      std::chrono::minutes(20));
  ASSERT_EQ(run.status.code, 0) << run.out << run.err;
  std::ifstream in(out / "results.json");
  const nlohmann::json results = nlohmann::json::parse(in);
  for (const auto& [mode, verdict] : {std::pair{"off", "reached"}, std::pair{"block", "blocked"}}) {
    const auto* result = find_case(results, "kata", "os-system", mode);
    ASSERT_NE(result, nullptr) << mode;
    EXPECT_EQ((*result)["verdict"], verdict) << result->dump(2);
    EXPECT_TRUE((*result)["timings"].contains("domain_create_ms")) << (*result)["timings"].dump();
    EXPECT_FALSE((*result)["timings"].contains("restore_ms")) << (*result)["timings"].dump();
  }
}

// The names of the libvirt domains of armorbench runs (ab-*), running or defined.
std::string harness_domains() {
  const CommandResult domains = run_command(
      {"virsh", "-c", "qemu:///system", "list", "--all", "--name"}, std::chrono::seconds(30));
  std::string found;
  std::istringstream names(domains.out);
  for (std::string name; std::getline(names, name);)
    if (name.rfind("ab-", 0) == 0) found += name + "\n";
  return found;
}

// Target faults in a guest: a model whose pickle panics the guest kernel ends its case as an error
// with the console's own words, and the run goes on; a SIGINT while the next case's guest runs
// destroys it and keeps the finished case.
TEST(KataEndToEnd, AGuestPanicIsAnErrorWithItsConsoleAndAnInterruptLeavesNoDomain) {
  ASSERT_EQ(::geteuid(), 0u) << "privileged test: needs root (libvirt, QEMU)";
  const fs::path dir = fs::path(::testing::TempDir()) / "kata-faults";
  fs::remove_all(dir);
  fs::create_directories(dir);
  // Protocol-0 pickle: os.system("echo c > /proc/sysrq-trigger") at load. The reference runc
  // control runs it too, where the runtime keeps /proc/sysrq-trigger read-only (OCI default).
  std::ofstream(dir / "panic.pkl") << "cos\nsystem\n(S'echo c > /proc/sysrq-trigger'\ntR.";
  std::ofstream(dir / "faults.toml") << R"([scenario]
name = "kata-faults"
[[target]]
name = "kata"
kind = "kata"
[[case]]
name = "panic"
model = { file = "panic.pkl" }
loader = "pickle"
attack = { kind = "custom", objective = { type = "file_created", path = "/tmp/never-made" } }
timeout = "300s"
[[case]]
name = "long"
requests = 100000
timeout = "300s"
)";
  Subprocess run(Subprocess::Spec{
      {ARMORBENCH_BIN, "run", (dir / "faults.toml").string(), "--out", (dir / "out").string()},
      Subprocess::Stdio::kNull,
      Subprocess::Stdio::kCapture,
      {}});
  std::string buffer, progress;
  for (;;) {  // until the panic case on kata is finished
    auto line = read_line(run.stderr_fd(), buffer, std::chrono::minutes(10));
    ASSERT_TRUE(line.has_value()) << "armorbench ended early:\n" << progress;
    progress += *line + "\n";
    if (line->find("panic[kata/off]") != std::string::npos) break;
  }
  // The long case's guest exists (booting or serving): mid-case either way.
  for (int i = 0; i < 600 && harness_domains().empty(); ++i) ::usleep(200'000);
  ASSERT_FALSE(harness_domains().empty()) << "the long case's guest never appeared";
  ::sleep(5);
  ::kill(run.pid(), SIGINT);
  const auto status = run.wait_for(std::chrono::minutes(3));
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->code, 130);
  EXPECT_EQ(harness_domains(), "") << "a domain was left behind";

  std::ifstream log(dir / "out" / "results.jsonl");
  const nlohmann::json* panicked = nullptr;
  std::vector<nlohmann::json> finished;
  for (std::string line; std::getline(log, line);) finished.push_back(nlohmann::json::parse(line));
  for (const auto& c : finished)
    if (c["case"] == "panic" && c["target"] == "kata") panicked = &c;
  ASSERT_NE(panicked, nullptr) << "the finished case is in results.jsonl";
  EXPECT_EQ((*panicked)["verdict"], "error") << panicked->dump(2);
  EXPECT_NE((*panicked)["reason"].get<std::string>().find("connection closed"), std::string::npos)
      << (*panicked)["reason"];
  bool console = false;
  for (const auto& e : (*panicked)["evidence"])
    if (e["kind"] == "log" &&
        e["data"]["tail"].get<std::string>().find("Kernel panic") != std::string::npos)
      console = true;
  EXPECT_TRUE(console) << "the guest console's panic message is evidence:\n" << panicked->dump(2);
  for (const auto& c : finished)
    EXPECT_NE(c["case"], "long") << "the interrupted case is not a finished one";
}

}  // namespace
}  // namespace armorbench
