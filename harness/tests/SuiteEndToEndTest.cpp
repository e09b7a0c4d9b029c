// The default suite's runc cases, smaller, run for real on runc and crun
// (privileged, in CI): every verdict is asserted, and what the enforcer recorded is checked
// against what each verdict claims.
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "armorbench/base/Subprocess.h"

namespace armorbench {
namespace {
namespace fs = std::filesystem;

nlohmann::json run_suite(const std::vector<std::string>& scenarios, const std::string& name,
                         const std::vector<std::string>& extra = {}) {
  const fs::path out = fs::path(::testing::TempDir()) / name;
  fs::remove_all(out);
  std::vector<std::string> argv{ARMORBENCH_BIN, "run"};
  for (const auto& s : scenarios)
    argv.push_back(std::string(ARMORBENCH_TEST_DATA) + "/scenarios/" + s);
  argv.insert(argv.end(), {"--out", out.string()});
  argv.insert(argv.end(), extra.begin(), extra.end());
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

// What one enforced case run must rest on: its verdict, the first denial or record attributed
// to it (who, which operation on which resource, by which rule) and whether the model server
// survived.
struct Expected {
  std::string verdict;
  std::string by;  // prefix: "enforcer (", "kernel (pids controller)"
  std::string operation;
  std::string resource;  // prefix
  std::string rule;
  std::optional<bool> service_kept;
};

// Checks every case run of `results` against `expected` ("case/mode", or "target:case/mode" with
// `by_target`): its verdict, whether the service survived, and the first denial or record
// attributed to it (a control without one has none).
void expect_verdicts(const nlohmann::json& results, const std::map<std::string, Expected>& expected,
                     bool by_target) {
  std::size_t seen = 0;
  for (const auto& c : results["cases"]) {
    const std::string key = (by_target ? c["target"].get<std::string>() + ":" : "") +
                            c["case"].get<std::string>() + "/" +
                            c["enforcer_mode"].get<std::string>();
    const auto it = expected.find(key);
    ASSERT_NE(it, expected.end()) << key;
    ++seen;
    const Expected& want = it->second;
    EXPECT_EQ(c["verdict"], want.verdict) << key << ": " << c["reason"];
    if (want.service_kept) {
      EXPECT_EQ(c["service"]["kept"], *want.service_kept) << key << c["service"];
    }
    if (want.by.empty()) {
      // Without enforcement nothing is the enforcer's (the target's own seccomp profile may
      // still refuse a side door the attack then did without).
      if (c["attack"].is_string() && c["enforcer_mode"] == "off") {
        for (const auto& d : c["attribution"]["attributed"])
          EXPECT_NE(d["by"].get<std::string>().rfind("enforcer", 0), 0u)
              << key << ": a control has no enforcer denial: " << d;
      }
      continue;
    }
    const auto& attributed = c["attribution"]["attributed"];
    ASSERT_FALSE(attributed.empty()) << key << ": " << c.dump(2);
    const auto& first = attributed[0];
    EXPECT_EQ(first["by"].get<std::string>().rfind(want.by, 0), 0u) << key << first;
    EXPECT_EQ(first["operation"], want.operation) << key << first;
    EXPECT_EQ(first["resource"].get<std::string>().rfind(want.resource, 0), 0u) << key << first;
    EXPECT_EQ(first["rule"].get<std::string>().rfind(want.rule, 0), 0u) << key << first;
    EXPECT_EQ(first["refused"], c["enforcer_mode"] == "block" || want.by.rfind("kernel", 0) == 0)
        << key << first;
  }
  EXPECT_EQ(seen, expected.size());
}

TEST_F(SuiteEndToEnd, EveryAttackFamilyHasItsVerdictAndTheDenialItRestsOn) {
  // With a signed evidence bundle (checked at the end).
  const fs::path keys = fs::path(::testing::TempDir()) / "reduced-suite-keys";
  fs::remove_all(keys);
  fs::create_directories(keys);
  ASSERT_TRUE(run_command({"openssl", "genpkey", "-algorithm", "ed25519", "-out",
                           (keys / "key.pem").string()},
                          std::chrono::seconds(30))
                  .status.exited_ok());
  ASSERT_TRUE(run_command({"openssl", "pkey", "-in", (keys / "key.pem").string(), "-pubout", "-out",
                           (keys / "key.pub").string()},
                          std::chrono::seconds(30))
                  .status.exited_ok());
  const fs::path bundle = keys / "bundle";
  const nlohmann::json results =
      run_suite({"reduced-suite.toml"}, "reduced-suite",
                {"--bundle", bundle.string(), "--sign-key", (keys / "key.pem").string()});
  const std::string shell = fs::canonical("/bin/sh").string();  // what the exec resolves to
  const std::string token = "/run/secrets/kubernetes.io/serviceaccount/token";
  const std::string libcuda = "/run/nvidia/driver/usr/lib/x86_64-linux-gnu/libcuda.so.1";
  const std::map<std::string, Expected> expected{
      {"benign/off", {"allowed", "", "", "", "", std::nullopt}},
      {"benign/audit", {"allowed", "", "", "", "", std::nullopt}},
      {"benign/block", {"allowed", "", "", "", "", std::nullopt}},
      {"os-system/off", {"reached", "", "", "", "", true}},
      {"os-system/audit", {"detected", "enforcer (", "exec", shell, "default posture", true}},
      // The tracepoint backend kills the shell; the server that forked it serves on.
      {"os-system/block", {"blocked", "enforcer (", "exec", shell, "default posture", true}},
      {"subprocess-popen/off", {"reached", "", "", "", "", true}},
      {"subprocess-popen/audit",
       {"detected", "enforcer (", "exec", shell, "default posture", true}},
      {"subprocess-popen/block", {"blocked", "enforcer (", "exec", shell, "default posture", true}},
      // The server replaced itself with the shell: whatever happens to the shell, it is gone.
      {"os-execv/off", {"reached", "", "", "", "", false}},
      {"os-execv/audit", {"detected", "enforcer (", "exec", shell, "default posture", false}},
      {"os-execv/block", {"blocked", "enforcer (", "exec", shell, "default posture", false}},
      // A server's own /tmp cannot be forbidden: reached, and expected so.
      {"exec-file-write/off", {"reached", "", "", "", "", true}},
      {"exec-file-write/audit", {"reached", "", "", "", "", true}},
      {"exec-file-write/block", {"reached", "", "", "", "", true}},
      {"plain-pickle-os-system/off", {"reached", "", "", "", "", true}},
      {"plain-pickle-os-system/audit",
       {"detected", "enforcer (", "exec", shell, "default posture", true}},
      {"plain-pickle-os-system/block",
       {"blocked", "enforcer (", "exec", shell, "default posture", true}},
      // The loader refuses the gadget even without enforcement: invalid, the loader is the fix.
      {"weights-only-loader/off", {"invalid", "", "", "", "", false}},
      {"weights-only-loader/audit", {"invalid", "", "", "", "", false}},
      {"weights-only-loader/block", {"invalid", "", "", "", "", false}},
      {"reverse-beacon/off", {"reached", "", "", "", "", true}},
      {"reverse-beacon/audit",
       {"detected", "enforcer (", "socket", "socket tcp", "protocol tcp", true}},
      {"reverse-beacon/block",
       {"blocked", "enforcer (", "socket", "socket tcp", "protocol tcp", true}},
      {"miner/off", {"reached", "", "", "", "", true}},
      {"miner/audit",
       {"detected", "enforcer (", "exec", "/tmp/.cache/kworkerd", "default posture", true}},
      {"miner/block",
       {"blocked", "enforcer (", "exec", "/tmp/.cache/kworkerd", "default posture", true}},
      {"token/off", {"reached", "", "", "", "", true}},
      {"token/audit",
       {"detected", "enforcer (", "open", token, "dir /run/secrets/ (recursive)", true}},
      // The open happens in the server's own process: SIGKILL takes the service with it.
      {"token/block",
       {"blocked", "enforcer (", "open", token, "dir /run/secrets/ (recursive)", false}},
      {"cuda/off", {"reached", "", "", "", "", true}},
      {"cuda/audit",
       {"detected", "enforcer (", "open", libcuda, "dir /run/nvidia/driver/ (recursive)", true}},
      {"cuda/block",
       {"blocked", "enforcer (", "open", libcuda, "dir /run/nvidia/driver/ (recursive)", false}},
      {"dump-proc-mem/off", {"reached", "", "", "", "", true}},
      {"dump-proc-mem/audit",
       {"detected", "enforcer (", "proc_mem", "/proc/", "memory of protected processes", true}},
      {"dump-proc-mem/block",
       {"blocked", "enforcer (", "proc_mem", "/proc/", "memory of protected processes", true}},
      {"dump-vm-readv/off", {"reached", "", "", "", "", true}},
      // The dumper reads the server's map before process_vm_readv: that read is refused.
      {"dump-vm-readv/audit",
       {"detected", "enforcer (", "proc_mem", "/proc/", "memory of protected processes", true}},
      {"dump-vm-readv/block",
       {"blocked", "enforcer (", "proc_mem", "/proc/", "memory of protected processes", true}},
      {"dump-ptrace/off", {"reached", "", "", "", "", true}},
      {"dump-ptrace/audit",
       {"detected", "enforcer (", "ptrace", "pid ", "memory of protected processes", true}},
      {"dump-ptrace/block",
       {"blocked", "enforcer (", "ptrace", "pid ", "memory of protected processes", true}},
      {"dump-sibling/off", {"reached", "", "", "", "", true}},
      {"dump-sibling/audit",
       {"detected", "enforcer (", "proc_mem", "/proc/", "memory of protected processes", true}},
      {"dump-sibling/block",
       {"blocked", "enforcer (", "proc_mem", "/proc/", "memory of protected processes", true}},
      {"dump-io-uring/off", {"reached", "", "", "", "", true}},
      {"dump-io-uring/audit", {"reached", "", "", "", "", true}},
      {"dump-io-uring/block", {"reached", "", "", "", "", true}},
      {"fork-bomb/off", {"reached", "", "", "", "", true}},
      // pids.max, not the enforcer: blocked in audit mode too, and never a detection.
      {"fork-bomb/audit",
       {"blocked", "kernel (pids controller)", "fork", "pids.max", "pids.max", false}},
      {"fork-bomb/block",
       {"blocked", "kernel (pids controller)", "fork", "pids.max", "pids.max", false}},
      {"memory-hog/off", {"reached", "", "", "", "", true}},
      {"memory-hog/audit",
       {"blocked", "kernel (memory controller)", "allocate", "memory.max", "memory.max", false}},
      {"memory-hog/block",
       {"blocked", "kernel (memory controller)", "allocate", "memory.max", "memory.max", false}},
      // The disk limit's tmpfs refuses the write past it (the harness's own write is refused
      // too); the server, whose load went on after the payload, serves on.
      {"disk-fill/off", {"reached", "", "", "", "", true}},
      {"disk-fill/audit",
       {"blocked", "kernel (tmpfs size=32.0 MiB)", "allocate", "disk", "disk", true}},
      {"disk-fill/block",
       {"blocked", "kernel (tmpfs size=32.0 MiB)", "allocate", "disk", "disk", true}},
  };
  expect_verdicts(results, expected, false);
  // The summary the gates read: blocked runs split by whether the service survived.
  for (const auto& s : results["summary"]["by_target_mode"]) {
    if (s["enforcer_mode"] == "block") {
      // All but io_uring and the file write in /tmp; weights-only is invalid (outside).
      EXPECT_NEAR(s["block_rate"].get<double>(), 15.0 / 17.0, 1e-9);
      EXPECT_EQ(s["false_positive_rate"], 0.0);
      EXPECT_EQ(s["counts"]["blocked_service_kept"], 10);
      EXPECT_EQ(s["counts"]["blocked_service_lost"], 5);  // execv, token, cuda, fork, memory
    }
    if (s["enforcer_mode"] == "audit") {  // the kernel's blocks (fork, memory, disk) detect nothing
      EXPECT_NEAR(s["detection_rate"].get<double>(), 12.0 / 17.0, 1e-9);
    }
  }
  // The host enforcer was loaded once for the enforced runs (audit, then block by a rule swap),
  // and the verdicts above rest on the events of each run's own cgroup all the same.
  int loads = 0, reused = 0, enforced = 0;
  for (const auto& c : results["cases"]) {
    if (c["enforcer_mode"] == "off") continue;
    ++enforced;
    if (c["timings"].contains("enforcer_load_ms")) ++loads;
    if (c["enforcer"].value("reused", false)) ++reused;
  }
  EXPECT_EQ(loads, 1);
  EXPECT_EQ(reused, enforced - 1);
  const nlohmann::json& all = results["summary"]["time"].back();
  EXPECT_EQ(all["target_kind"], "all");
  EXPECT_EQ(all["enforcer_loads"], 1);
  EXPECT_EQ(all["runs"], results["cases"].size());
  double phases = 0;
  for (const auto& p : all["phases"]) phases += p["seconds"].get<double>();
  EXPECT_NEAR(phases, all["seconds"].get<double>(), 0.01 * all["seconds"].get<double>());

  // The bundle verifies with the key (directory and archive), holds the run's enforcer events,
  // a model digest per case run and libvirt's domain capabilities; one byte of results.json
  // changed, verify fails naming it.
  const auto verify = [&](const fs::path& what) {
    return run_command(
        {ARMORBENCH_BIN, "verify", what.string(), "--key", (keys / "key.pub").string()},
        std::chrono::minutes(2));
  };
  const CommandResult ok = verify(bundle);
  EXPECT_EQ(ok.status.code, 0) << ok.out << ok.err;
  EXPECT_NE(ok.out.find("the signature is valid"), std::string::npos) << ok.out;
  EXPECT_EQ(verify(bundle.string() + ".tar.gz").status.code, 0);
  EXPECT_TRUE(fs::is_regular_file(bundle / "reports/report.html"));
  EXPECT_TRUE(fs::is_regular_file(bundle / "host/domain-capabilities.xml"));
  EXPECT_FALSE(fs::is_empty(bundle / "events"));
  std::ifstream models_in(bundle / "models.json");
  EXPECT_EQ(nlohmann::json::parse(models_in).size(), results["cases"].size());
  {
    std::fstream file(bundle / "results.json", std::ios::in | std::ios::out | std::ios::binary);
    file.seekg(100);
    const char was = static_cast<char>(file.get());
    file.seekp(100);
    file.put(was == ' ' ? '\t' : ' ');
  }
  const CommandResult changed = verify(bundle);
  EXPECT_EQ(changed.status.code, 1) << changed.out << changed.err;
  EXPECT_NE(changed.out.find("FAILED changed: results.json"), std::string::npos) << changed.out;
}

// Every evasion case of the default suite (off and block) on runc without and with the
// runtime-default seccomp profile: the verdict, and the denial of the side door it rests on (the
// enforcer's, with the rule, or the kernel's seccomp refusal of the syscall).
TEST_F(SuiteEndToEnd, EveryEvasionRestsOnADenialOfItsSideDoor) {
  const nlohmann::json results = run_suite({"evasion-suite.toml"}, "evasion-suite");
  const std::string token = "/run/secrets/kubernetes.io/serviceaccount/token";
  const std::string secrets = "dir /run/secrets/ (recursive)";
  const std::string fail_closed = "fail closed: ";
  const std::string seccomp = "seccomp runtime-default";
  const Expected reached{"reached", "", "", "", "", true};
  const Expected invalid{"invalid", "", "", "", "", std::nullopt};
  std::map<std::string, Expected> expected;
  for (const std::string target : {"runc", "runc-seccomp"}) {
    const auto at = [&](const std::string& c) { return target + ":" + c; };
    for (const std::string c : {"mptcp-beacon", "udplite-beacon", "raw-icmp-beacon",
                                "cgroup-escape", "rename-read", "link-read"})
      expected[at(c + "/off")] = reached;
    for (const std::string c : {"ping-beacon", "sctp-beacon", "int80-read"}) {
      expected[at(c + "/off")] = invalid;
      expected[at(c + "/block")] = invalid;
    }
    expected[at("mptcp-beacon/block")] = {"blocked",    "enforcer (",   "socket",
                                          "socket tcp", "protocol tcp", true};
    expected[at("udplite-beacon/block")] = {"blocked",    "enforcer (",   "socket",
                                            "socket udp", "protocol udp", true};
    expected[at("raw-icmp-beacon/block")] = {"blocked",    "enforcer (",   "socket",
                                             "socket raw", "protocol raw", true};
    // The server itself reads the token once it sits in a cgroup below its container's.
    expected[at("cgroup-escape/block")] = {"blocked", "enforcer (", "open", token, secrets, false};
    expected[at("rename-read/block")] = {"blocked", "enforcer (", "open", "/run/moved-secrets/",
                                         secrets,   false};
    // The link itself is judged first (the child killed at the call's entry, the link made),
    // then the server's open of the link, by the token's identity (the service lost).
    expected[at("link-read/block")] = {"blocked", "enforcer (", "link", token, secrets, false};
  }
  // Without seccomp: the enforcer fails the side doors closed, except the shared descriptor.
  expected["runc:clone-files/off"] = reached;
  expected["runc:clone-files/block"] = reached;  // the tracepoint backend's gap, expected
  expected["runc:unshare-exec/off"] = reached;
  expected["runc:unshare-exec/block"] = {"blocked",   "enforcer (", "exec", "/usr/bin/python3.11",
                                         fail_closed, true};
  expected["runc:chroot-read/off"] = reached;
  // The token below the chroot is still the protected token (its identity), and the view is
  // foreign anyway: either decides; the identity comes first.
  expected["runc:chroot-read/block"] = {"blocked", "enforcer (", "open", "/secrets/kubernetes.io/",
                                        secrets,   true};
  // With runtime-default (runc 1.1: the refusal kills the caller), in every mode.
  for (const std::string mode : {"off", "block"}) {
    // clone is called by the server itself: the kill takes the service with it.
    expected["runc-seccomp:clone-files/" + mode] = {
        "blocked", "kernel (seccomp)", "syscall", "clone", seccomp, false};
    expected["runc-seccomp:unshare-exec/" + mode] = {
        "blocked", "kernel (seccomp)", "syscall", "unshare", seccomp, true};
    expected["runc-seccomp:chroot-read/" + mode] = {
        "blocked", "kernel (seccomp)", "syscall", "unshare", seccomp, true};
  }
  // Changes to the token: judged at the call's entry, the caller killed, the change made all the
  // same (the tracepoint backend's gap; bpf-lsm refuses them, see KataEndToEnd).
  const std::map<std::string, std::string> changes{
      {"unlink-token", "unlink"}, {"truncate-token", "setattr"}, {"replace-token", "rename"}};
  for (const std::string target : {"runc", "runc-seccomp"})
    for (const auto& [c, operation] : changes) {
      expected[target + ":" + c + "/off"] = reached;
      expected[target + ":" + c + "/block"] = reached;
    }
  expect_verdicts(results, expected, true);
  for (const auto& c : results["cases"]) {
    const auto change = changes.find(c["case"].get<std::string>());
    if (change == changes.end() || c["enforcer_mode"] != "block") continue;
    bool judged = false;
    for (const auto& e : c["evidence"])
      judged |= e["kind"] == "enforcer-event" && e["data"]["operation"] == change->second &&
                e["data"]["resource"] == token && e["data"]["enforcement"] == "sigkill";
    EXPECT_TRUE(judged) << c["target"] << ":" << c["case"] << " has no judged change\n"
                        << c["evidence"].dump(1);
  }
}

// A CI matrix's view: the suite in two shards (separate runs, as on two runners), merged, is the
// suite run whole: the same case runs, verdicts and gates; `compare` finds no verdict change.
TEST_F(SuiteEndToEnd, EveryModelFormatServesAndItsAttacksRestOnTheirDenial) {
  // The default suite's formats scenario as it ships: scikit-learn, XGBoost and ONNX models
  // generated at run time, answers checked against the generator's.
  const nlohmann::json results =
      run_suite({"../../../scenarios/25-model-formats.toml"}, "model-formats");
  const std::string shell = fs::canonical("/bin/sh").string();
  const std::string token = "/run/secrets/kubernetes.io/serviceaccount/token";
  const std::string secrets_rule = "dir /run/secrets/";
  std::map<std::string, Expected> expected;
  for (const char* mode : {"off", "audit", "block"}) {
    for (const char* benign :
         {"sklearn-joblib", "sklearn-pickle", "xgboost-ubj", "xgboost-pickle", "onnx"})
      expected[std::string(benign) + "/" + mode] = {"allowed", "", "", "", "", std::nullopt};
    // XGBoost's own format runs nothing: the gadget's pickle under its name never loads.
    expected[std::string("xgboost-ubj-refuses-a-pickle/") + mode] = {"invalid", "", "",
                                                                     "",        "", false};
  }
  const auto attack = [&](const std::string& name, const std::string& operation,
                          const std::string& resource, const std::string& rule,
                          bool kept_when_blocked) {
    expected[name + "/off"] = {"reached", "", "", "", "", true};
    expected[name + "/audit"] = {"detected", "enforcer (", operation, resource, rule, true};
    expected[name + "/block"] = {"blocked", "enforcer (", operation,
                                 resource,  rule,         kept_when_blocked};
  };
  // A gadget's shell is killed at its exec; the server that forked it serves on.
  attack("sklearn-joblib-os-system", "exec", shell, "default posture", true);
  attack("xgboost-pickle-popen", "exec", shell, "default posture", true);
  // In-process reads of the token: the tracepoint backend kills the server at the open.
  attack("sklearn-joblib-secret-exfiltration", "open", token, secrets_rule, false);
  // The ONNX loader reads the token as weights through a symlink or dir/../..: the file rule on
  // the secret refuses the open (on its resolved path), and the model never loads.
  attack("onnx-external-data-symlink", "open", token, secrets_rule, false);
  attack("onnx-external-data-traversal", "open", token, secrets_rule, false);
  expect_verdicts(results, expected, false);
  for (const auto& c : results["cases"])
    if (c["attack"] == "onnx-external-data" && c["enforcer_mode"] == "off") {
      EXPECT_NE(c["reason"].get<std::string>().find("came back in output 'leak_out'"),
                std::string::npos)
          << c["reason"];
    }
}

TEST_F(SuiteEndToEnd, AvailabilityIsTheBenignClientsLatencyAndErrorsDuringTheAttack) {
  const nlohmann::json results = run_suite({"availability-e2e.toml"}, "availability");
  std::map<std::string, nlohmann::json> figures;
  for (const auto& c : results["cases"]) {
    const std::string key = c["target"].get<std::string>() + ":" + c["case"].get<std::string>();
    for (const auto& e : c["evidence"])
      if (e["kind"] == "objective") figures[key] = e["data"];
    if (key == "runc-no-limits:slowloris")
      EXPECT_EQ(c["verdict"], "invalid") << c["reason"];
    else
      EXPECT_EQ(c["verdict"], "reached") << key << ": " << c["reason"];
  }
  ASSERT_EQ(figures.size(), 4u);
  for (const char* flood : {"runc-limits:request-flood", "runc-no-limits:request-flood"}) {
    const auto& f = figures[flood];
    EXPECT_GT(f["baseline_p50_ms"].get<double>(), 0) << flood << f;
    EXPECT_GE(f["slowdown"].get<double>(), 5.0) << flood << f;
    EXPECT_GT(f["attacker_sent"].get<int>(), 0) << flood << f;
  }
  // Under pids.max the server cannot start a thread for the benign client's connections.
  EXPECT_GE(figures["runc-limits:slowloris"]["error_rate"].get<double>(), 0.1)
      << figures["runc-limits:slowloris"];
  EXPECT_EQ(figures["runc-no-limits:slowloris"]["errors"], 0)
      << figures["runc-no-limits:slowloris"];
  EXPECT_GE(figures["runc-no-limits:slowloris"]["attacker_sent"].get<int>(), 200)
      << "the connections were held: " << figures["runc-no-limits:slowloris"];
}

TEST_F(SuiteEndToEnd, TwoShardsMergedAreTheWholeRun) {
  const std::string suite = std::string(ARMORBENCH_TEST_DATA) + "/scenarios/shard-suite.toml";
  const fs::path base = fs::path(::testing::TempDir()) / "shards";
  fs::remove_all(base);
  const auto run = [&](const std::vector<std::string>& extra, const std::string& out) {
    std::vector<std::string> argv{ARMORBENCH_BIN, "run", suite, "--out", (base / out).string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    const CommandResult r = run_command(argv, std::chrono::minutes(10));
    EXPECT_EQ(r.status.code, 0) << out << "\n" << r.out << r.err;
  };
  run({}, "whole");
  // Shard 1 is also gated against the whole run: its cases are in the baseline, shard 2's are
  // "removed", which is no regression. (Latency: see the compare below.)
  run({"--shard", "1/2", "--baseline", (base / "whole" / "results.json").string(), "--max-slowdown",
       "5"},
      "shard-1");
  EXPECT_TRUE(fs::exists(base / "shard-1" / "compare.md"));
  run({"--shard", "2/2"}, "shard-2");
  const CommandResult merge = run_command(
      {ARMORBENCH_BIN, "merge", (base / "shard-2" / "results.json").string(),
       (base / "shard-1" / "results.json").string(), "--out", (base / "merged").string()},
      std::chrono::minutes(2));
  ASSERT_EQ(merge.status.code, 0) << merge.out << merge.err;
  const auto read = [&](const std::string& dir) {
    std::ifstream in(base / dir / "results.json");
    return nlohmann::json::parse(in);
  };
  const nlohmann::json whole = read("whole"), merged = read("merged"), one = read("shard-1"),
                       two = read("shard-2");
  EXPECT_EQ(one["cases"].size() + two["cases"].size(), whole["cases"].size());
  bool baseline_gate = false;
  for (const auto& g : one["summary"]["gates"])
    if (g["gate"] == "baseline") baseline_gate = g["passed"].get<bool>();
  EXPECT_TRUE(baseline_gate) << one["summary"]["gates"].dump(1);
  EXPECT_GT(one["cases"].size(), 0u);
  EXPECT_GT(two["cases"].size(), 0u);
  ASSERT_EQ(merged["cases"].size(), whole["cases"].size());
  for (std::size_t i = 0; i < whole["cases"].size(); ++i) {
    const auto& w = whole["cases"][i];
    const auto& m = merged["cases"][i];
    EXPECT_EQ(m["case"], w["case"]);
    EXPECT_EQ(m["enforcer_mode"], w["enforcer_mode"]);
    EXPECT_EQ(m["verdict"], w["verdict"]) << w["case"] << "/" << w["enforcer_mode"];
  }
  EXPECT_EQ(merged["summary"]["by_target_mode"], whole["summary"]["by_target_mode"]);
  EXPECT_EQ(merged["summary"]["exit_code"], 0);
  EXPECT_EQ(merged["summary"]["gates"].size(), whole["summary"]["gates"].size());
  EXPECT_FALSE(merged["summary"]["overhead"].empty());
  // Verdicts only: two runs' latencies differ by scheduling noise, which is not what is tested.
  const CommandResult compare = run_command(
      {ARMORBENCH_BIN, "compare", (base / "whole" / "results.json").string(),
       (base / "merged" / "results.json").string(), "--format", "json", "--max-slowdown", "5"},
      std::chrono::minutes(1));
  EXPECT_EQ(compare.status.code, 0) << compare.out << compare.err;
  const nlohmann::json diff = nlohmann::json::parse(compare.out);
  EXPECT_TRUE(diff["verdicts"].empty()) << diff.dump(1);
  EXPECT_TRUE(diff["added"].empty());
  EXPECT_TRUE(diff["removed"].empty());
  EXPECT_EQ(diff["matched"], whole["cases"].size());
}

TEST_F(SuiteEndToEnd, AHostThatCannotEnforceExitsThreeNotZero) {
  const fs::path out = fs::path(::testing::TempDir()) / "no-enforcement";
  fs::remove_all(out);
  const CommandResult r = run_command(
      {ARMORBENCH_BIN, "run", std::string(ARMORBENCH_TEST_DATA) + "/scenarios/no-enforcement.toml",
       "--out", out.string()},
      std::chrono::minutes(10));
  std::ifstream in(out / "results.json");
  const nlohmann::json results = nlohmann::json::parse(in);
  const auto v = verdicts(results);
  if (v.at("runc:os-system/block") != "not-run")
    GTEST_SKIP() << "this host loads bpf-lsm programs, so the premise (no enforcement) is absent";
  EXPECT_EQ(v.at("runc:os-system/off"), "reached");
  EXPECT_EQ(r.status.code, 3) << r.out << r.err;
  bool gate_seen = false;
  for (const auto& g : results["summary"]["gates"])
    if (g["gate"] == "min_block_rate[runc]") {
      gate_seen = true;
      EXPECT_FALSE(g["evaluated"].get<bool>()) << g;
      EXPECT_TRUE(g["passed"].get<bool>()) << g;
    }
  EXPECT_TRUE(gate_seen) << "the declared gate was dropped";
  EXPECT_NE(r.out.find("NOT EVALUATED"), std::string::npos) << r.out;
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
