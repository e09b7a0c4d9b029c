// End to end on the real runtime (privileged, runs in CI): a scenario serving the generated
// model on runc, answers checked, results files present and valid, nothing left behind; and a
// run interrupted with SIGINT mid-case that still removes everything it created; and a run
// killed with SIGKILL, whose leftovers `armorbench clean` and the next run remove.
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/property_tree/ptree.hpp>
#include <boost/property_tree/xml_parser.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "armorbench/base/Subprocess.h"

namespace armorbench {
namespace {
namespace fs = std::filesystem;

fs::path temp_dir(const std::string& name) {
  const fs::path dir = fs::path(::testing::TempDir()) / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void write(const fs::path& file, const std::string& text) {
  std::ofstream(file) << text;
}

std::string read(const fs::path& file) {
  std::ifstream in(file);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Everything a run leaves on the host if its cleanup failed: containers, mounts, cgroups (in
// every hierarchy: crun makes one per v1 controller), work dirs and leases.
std::vector<std::string> leftovers() {
  std::vector<std::string> found;
  for (const char* runtime : {"runc", "crun"}) {
    if (!find_executable(runtime)) continue;
    const auto list = run_command({runtime, "list", "-q"}, std::chrono::seconds(10));
    std::istringstream ids(list.out);
    for (std::string id; std::getline(ids, id);)
      if (id.rfind("ab-", 0) == 0) found.push_back(std::string(runtime) + " container " + id);
  }
  std::istringstream mounts(read("/proc/self/mountinfo"));
  for (std::string line; std::getline(mounts, line);)
    if (line.find("/armorbench-") != std::string::npos) found.push_back("mount " + line);
  std::error_code ec;
  for (const auto& hierarchy : fs::directory_iterator("/sys/fs/cgroup", ec))
    if (fs::is_directory(hierarchy.path() / "armorbench"))
      for (const auto& entry : fs::directory_iterator(hierarchy.path() / "armorbench"))
        if (entry.is_directory()) found.push_back("cgroup " + entry.path().string());
  for (const auto& entry : fs::directory_iterator("/var/tmp"))
    if (entry.path().filename().string().rfind("armorbench-", 0) == 0)
      found.push_back("dir " + entry.path().string());
  for (const auto& entry : fs::directory_iterator("/run/armorbench/runs", ec))
    found.push_back("lease " + entry.path().string());
  // The enforcer's BPF programs (all named ab_*) still loaded: a link or an fd still holds them.
  if (const auto bpftool = find_executable("bpftool")) {
    const auto progs = run_command({*bpftool, "-j", "prog", "show"}, std::chrono::seconds(20));
    const auto list = nlohmann::json::parse(progs.out, nullptr, false);
    if (list.is_array())
      for (const auto& prog : list)
        if (prog.value("name", "").rfind("ab_", 0) == 0)
          found.push_back("bpf program " + prog.value("name", "") + " id " +
                          std::to_string(prog.value("id", 0)));
  }
  // Libvirt domains of a run (ab-<run id>-...), running or defined.
  if (const auto virsh = find_executable("virsh")) {
    const auto domains = run_command({*virsh, "-c", "qemu:///system", "list", "--all", "--name"},
                                     std::chrono::seconds(20));
    std::istringstream names(domains.out);
    for (std::string name; std::getline(names, name);)
      if (name.rfind("ab-", 0) == 0) found.push_back("domain " + name);
  }
  return found;
}

// Polls the host (an external state: no event to wait on) until the enforcer's BPF programs are
// loaded: the long case runs under enforcement.
bool wait_for_enforcer() {
  for (int i = 0; i < 300; ++i) {
    for (const std::string& l : leftovers())
      if (l.rfind("bpf program ab_", 0) == 0) return true;
    ::usleep(100'000);
  }
  return false;
}

// Polls `runc list` (an external state: no event to wait on) until a harness container exists.
bool wait_for_container() {
  for (int i = 0; i < 600; ++i) {
    const auto list = run_command({"runc", "list", "-q"}, std::chrono::seconds(10));
    if (list.out.find("ab-") != std::string::npos) return true;
    ::usleep(50'000);
  }
  return false;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& line : lines) text += line + "\n";
  return text;
}

// (The disk limit puts every sandbox's /tmp and /run on a tmpfs of its own: the interrupt and
// kill tests below show it unmounted or cleaned like every other mount.)
const char* kScenario = R"([scenario]
name = "e2e"
[[target]]
name = "runc"
kind = "runc"
rootfs = "host"
limits = { memory = "2GiB", pids = 512, disk = "64MiB" }
[[case]]
name = "benign-torch"
loader = "torch"
requests = 8
[[case]]
name = "benign-safetensors"
loader = "safetensors"
requests = 8
)";

// A case that serves until it is interrupted, under the enforcer (its BPF programs attached).
const std::string kLongCase = std::string("[enforcer]\npolicies = [\"") + ARMORBENCH_SOURCE_DIR +
                              "/scenarios/policies/model-server.yaml\"]\nmodes = [\"block\"]\n" +
                              "[[case]]\nname = \"long\"\nrequests = 100000\n";

class RuncEndToEnd : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "privileged test: needs root (runc, cgroups, mounts); run "
                                  "`ctest -L unit` as a normal user";
    // A run killed before its cleanup in an earlier session (a SIGKILLed CI job, say) is not
    // this test's failure: `armorbench clean` removes what dead runs left, and says what.
    const auto clean = run_command({ARMORBENCH_BIN, "clean"}, std::chrono::minutes(2));
    if (clean.out != "nothing to clean\n")
      std::cerr << "removed before the test (left by dead runs):\n" << clean.out << clean.err;
    ASSERT_TRUE(leftovers().empty()) << "host not clean before the test:\n" << joined(leftovers());
  }
};

TEST_F(RuncEndToEnd, ServesTheModelAndWritesValidResults) {
  const fs::path dir = temp_dir("e2e-runc");
  write(dir / "e2e.toml", kScenario);
  const auto r = run_command(
      {ARMORBENCH_BIN, "run", (dir / "e2e.toml").string(), "--out", (dir / "out").string()},
      std::chrono::minutes(5));
  ASSERT_EQ(r.status.code, 0) << r.out << r.err;

  const auto results = nlohmann::json::parse(read(dir / "out" / "results.json"));
  EXPECT_EQ(results["schema"], 1);
  ASSERT_EQ(results["cases"].size(), 2u);
  for (const auto& c : results["cases"]) {
    EXPECT_EQ(c["verdict"], "allowed") << c.dump(2);
    // Every answer is checked, the 2 warm-up ones too; only the 8 measured ones are timed.
    EXPECT_EQ(c["reason"], "served 10/10 requests correctly");
    EXPECT_EQ(c["latency"]["count"], 8);
    EXPECT_GT(c["latency"]["p50_us"].get<double>(), 0);
    EXPECT_GT(c["timings"]["create_ms"].get<double>(), 0);
    EXPECT_TRUE(c["timings"].contains("ready_ms"));
  }
  EXPECT_EQ(results["host"]["runtime.runc"]["ok"], true);
  EXPECT_EQ(results["summary"]["exit_code"], 0);

  std::istringstream jsonl(read(dir / "out" / "results.jsonl"));
  int lines = 0;
  for (std::string line; std::getline(jsonl, line); ++lines)
    EXPECT_FALSE(nlohmann::json::parse(line)["verdict"].is_null());
  EXPECT_EQ(lines, 2);

  boost::property_tree::ptree junit;
  boost::property_tree::read_xml((dir / "out" / "junit.xml").string(), junit);
  // The two case runs and every gate (a suite of their own).
  EXPECT_EQ(junit.get<std::size_t>("testsuites.<xmlattr>.tests"),
            2 + results["summary"]["gates"].size());
  EXPECT_EQ(junit.get<int>("testsuites.<xmlattr>.failures"), 0);
  EXPECT_NE(read(dir / "out" / "summary.md").find("| runc | off |"), std::string::npos);

  EXPECT_EQ(leftovers(), std::vector<std::string>{});
}

TEST_F(RuncEndToEnd, SigintMidCaseRemovesEverythingAndKeepsFinishedCases) {
  const fs::path dir = temp_dir("e2e-sigint");
  write(dir / "e2e.toml", std::string(kScenario) + kLongCase);
  Subprocess run(Subprocess::Spec{
      {ARMORBENCH_BIN, "run", (dir / "e2e.toml").string(), "--out", (dir / "out").string()},
      Subprocess::Stdio::kNull,
      Subprocess::Stdio::kCapture,
      {}});
  // Wait until the third case's container serves: two finished lines are in results.jsonl.
  std::string buffer;
  int finished = 0;
  while (finished < 2) {
    auto line = read_line(run.stderr_fd(), buffer, std::chrono::minutes(3));
    ASSERT_TRUE(line.has_value()) << "armorbench ended early";
    if (line->find("allowed") != std::string::npos) ++finished;
  }
  ASSERT_TRUE(wait_for_container());
  ASSERT_TRUE(wait_for_enforcer()) << "the long case runs with the enforcer attached";
  ::kill(run.pid(), SIGINT);
  const auto status = run.wait_for(std::chrono::minutes(1));
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->code, 130);
  EXPECT_EQ(leftovers(), std::vector<std::string>{}) << "no container, mount, cgroup, work dir, "
                                                        "lease, BPF program or domain left";
  std::istringstream jsonl(read(dir / "out" / "results.jsonl"));
  int lines = 0;
  for (std::string line; std::getline(jsonl, line);) ++lines;
  EXPECT_EQ(lines, 2) << "the finished cases survive the interrupt";
  EXPECT_FALSE(fs::exists(dir / "out" / "results.json")) << "no half-written results.json";
}

// Interrupted mid-case, then resumed: the finished cases are kept, the interrupted one runs
// again, and the results are the whole run's.
TEST_F(RuncEndToEnd, AnInterruptedRunResumesWhereItStopped) {
  const fs::path dir = temp_dir("e2e-resume");
  write(dir / "e2e.toml", std::string(kScenario) + "[[case]]\nname = \"slow\"\nrequests = 3000\n");
  const std::vector<std::string> argv = {ARMORBENCH_BIN, "run", (dir / "e2e.toml").string(),
                                         "--out", (dir / "out").string()};
  Subprocess run(Subprocess::Spec{argv, Subprocess::Stdio::kNull, Subprocess::Stdio::kCapture, {}});
  std::string buffer;
  for (int finished = 0; finished < 2;) {
    auto line = read_line(run.stderr_fd(), buffer, std::chrono::minutes(3));
    ASSERT_TRUE(line.has_value()) << "armorbench ended early";
    if (line->find("allowed") != std::string::npos) ++finished;
  }
  ASSERT_TRUE(wait_for_container());
  ::kill(run.pid(), SIGINT);
  const auto status = run.wait_for(std::chrono::minutes(1));
  ASSERT_TRUE(status.has_value());
  ASSERT_EQ(status->code, 130);
  const std::string first_id = nlohmann::json::parse(read(dir / "out" / "run.json"))["id"];

  std::vector<std::string> resume = argv;
  resume.erase(resume.end() - 2, resume.end());  // --resume names the --out
  resume.insert(resume.end(), {"--resume", (dir / "out").string()});
  const auto r = run_command(resume, std::chrono::minutes(5));
  ASSERT_EQ(r.status.code, 0) << r.out << r.err;
  EXPECT_NE(r.err.find("resumed run " + first_id + ": kept 2 finished case runs, ran 1"),
            std::string::npos)
      << r.err;
  const auto results = nlohmann::json::parse(read(dir / "out" / "results.json"));
  ASSERT_EQ(results["cases"].size(), 3u);
  for (const auto& c : results["cases"]) EXPECT_EQ(c["verdict"], "allowed") << c.dump(2);
  EXPECT_EQ(results["run"]["resumed"]["from"], first_id);
  std::istringstream jsonl(read(dir / "out" / "results.jsonl"));
  int lines = 0;
  for (std::string line; std::getline(jsonl, line);) ++lines;
  EXPECT_EQ(lines, 3);
  EXPECT_EQ(leftovers(), std::vector<std::string>{});
}

// A run of the long case alone (its output discarded).
Subprocess start_long_run(const fs::path& dir) {
  write(dir / "e2e.toml", std::string(kScenario) + kLongCase);
  return Subprocess(Subprocess::Spec{{ARMORBENCH_BIN, "run", (dir / "e2e.toml").string(), "--out",
                                      (dir / "killed").string(), "--filter", "long"},
                                     Subprocess::Stdio::kNull,
                                     Subprocess::Stdio::kNull,
                                     {}});
}

// Starts a run of the long case and SIGKILLs it once its container exists: no destructor runs,
// so the container, its cgroups, the host-root bind, the work dir and the lease stay.
void kill_a_run_mid_case(const fs::path& dir) {
  Subprocess run = start_long_run(dir);
  ASSERT_TRUE(wait_for_container());
  ASSERT_TRUE(wait_for_enforcer());
  run.kill_and_wait(SIGKILL);
}

TEST_F(RuncEndToEnd, SigkilledRunLeavesLeftoversThatCleanRemoves) {
  const fs::path dir = temp_dir("e2e-sigkill");
  ASSERT_NO_FATAL_FAILURE(kill_a_run_mid_case(dir));
  const auto left = leftovers();
  auto has = [&](const std::string& prefix) {
    return std::any_of(left.begin(), left.end(),
                       [&](const std::string& l) { return l.rfind(prefix, 0) == 0; });
  };
  EXPECT_TRUE(has("runc container ab-")) << joined(left);
  EXPECT_TRUE(has("cgroup ")) << joined(left);
  EXPECT_TRUE(has("mount ")) << joined(left);
  EXPECT_TRUE(has("dir /var/tmp/armorbench-")) << joined(left);
  EXPECT_TRUE(has("lease ")) << joined(left);
  // The BPF links went with the killed process's file descriptors (nothing is pinned).
  EXPECT_FALSE(has("bpf program ")) << joined(left);

  const auto dry = run_command({ARMORBENCH_BIN, "clean", "--dry-run"}, std::chrono::minutes(1));
  EXPECT_EQ(dry.status.code, 0) << dry.err;
  EXPECT_NE(dry.out.find("would remove container ab-"), std::string::npos) << dry.out;
  EXPECT_EQ(leftovers().size(), left.size()) << "a dry run removes nothing";

  const auto clean = run_command({ARMORBENCH_BIN, "clean"}, std::chrono::minutes(2));
  EXPECT_EQ(clean.status.code, 0) << clean.out << clean.err;
  EXPECT_NE(clean.out.find("removed container ab-"), std::string::npos) << clean.out;
  EXPECT_NE(clean.out.find("removed dir /var/tmp/armorbench-"), std::string::npos) << clean.out;
  EXPECT_EQ(leftovers(), std::vector<std::string>{});
}

// `clean` at once after `kill -9`, before anything reaped the run (its parent here is this test,
// which waits only afterwards): the killed run is a zombie or still dying, and its lease must
// read as dead all the same.
TEST_F(RuncEndToEnd, CleanRightAfterSigkillBeforeTheRunIsReapedRemovesEverything) {
  const fs::path dir = temp_dir("e2e-sigkill-unreaped");
  Subprocess run = start_long_run(dir);
  ASSERT_TRUE(wait_for_container());
  ASSERT_TRUE(wait_for_enforcer());
  ASSERT_EQ(::kill(run.pid(), SIGKILL), 0);
  const auto clean = run_command({ARMORBENCH_BIN, "clean"}, std::chrono::minutes(2));
  EXPECT_EQ(clean.status.code, 0) << clean.out << clean.err;
  EXPECT_EQ(clean.out.find("nothing to clean"), std::string::npos) << clean.out;
  EXPECT_NE(clean.out.find("removed container ab-"), std::string::npos) << clean.out;
  EXPECT_EQ(leftovers(), std::vector<std::string>{});
  run.wait_for(std::chrono::seconds(30));
}

// The case in `results` named `name` (fails the test when absent).
const nlohmann::json& case_named(const nlohmann::json& results, const std::string& name) {
  for (const auto& c : results["cases"])
    if (c["case"] == name) return c;
  ADD_FAILURE() << "no case " << name << " in " << results.dump(1);
  static const nlohmann::json none = nlohmann::json::object();
  return none;
}

// A `runc` that hangs on its first `create` (a runtime wedged on a stuck mount, say) and is the
// real runc otherwise: put first on PATH, the harness finds it as its runtime.
fs::path runc_hanging_once(const fs::path& dir) {
  const auto real = find_executable("runc");
  if (!real) return {};
  const fs::path bin = dir / "bin";
  fs::create_directories(bin);
  write(bin / "runc", "#!/bin/sh\nfor a in \"$@\"; do\n  if [ \"$a\" = create ] && mkdir \"" +
                          (dir / "hung-once").string() +
                          "\" 2>/dev/null; then exec sleep 600; fi\ndone\nexec " + *real +
                          " \"$@\"\n");
  fs::permissions(bin / "runc", fs::perms::owner_all);
  return bin;
}

TEST_F(RuncEndToEnd, AHungStepEndsItsCaseAsAnErrorNamingTheStepAndTheRunGoesOn) {
  const fs::path dir = temp_dir("e2e-hung-step");
  const fs::path bin = runc_hanging_once(dir);
  ASSERT_FALSE(bin.empty()) << "runc not found";
  write(dir / "e2e.toml", std::string(kScenario) + "[timeouts]\ncreate = \"4s\"\n");
  const auto start = std::chrono::steady_clock::now();
  Subprocess run(Subprocess::Spec{
      {ARMORBENCH_BIN, "run", (dir / "e2e.toml").string(), "--out", (dir / "out").string()},
      Subprocess::Stdio::kCapture,
      Subprocess::Stdio::kCapture,
      {{"PATH", bin.string() + ":" + std::getenv("PATH")}}});
  const auto status = run.wait_for(std::chrono::minutes(4));
  ASSERT_TRUE(status.has_value()) << "the run hung with its runtime";
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(status->code, 2) << "a case in error: exit 2";

  const auto results = nlohmann::json::parse(read(dir / "out" / "results.json"));
  const auto& hung = case_named(results, "benign-torch");
  EXPECT_EQ(hung["verdict"], "error") << hung.dump(2);
  EXPECT_EQ(hung["reason"], "step create did not finish within its limit of 4 s") << hung.dump(2);
  bool step_evidence = false;
  for (const auto& e : hung["evidence"])
    if (e["kind"] == "step") {
      step_evidence = true;
      EXPECT_EQ(e["data"]["step"], "create");
      EXPECT_EQ(e["data"]["limit_ms"], 4000);
    }
  EXPECT_TRUE(step_evidence) << hung.dump(2);
  EXPECT_LT(hung["duration_s"].get<double>(), 30) << "the case waited past its step's limit";
  EXPECT_EQ(case_named(results, "benign-safetensors")["verdict"], "allowed")
      << "the run went on with the next case";
  EXPECT_LT(took, std::chrono::minutes(3));
  EXPECT_EQ(leftovers(), std::vector<std::string>{});
}

// The kernel's OOM killer ends the model server at load: a target failure, reported as an error
// with how it ended and the server's log, never as a disruption or a pass.
TEST_F(RuncEndToEnd, AnOomKilledServerIsAnErrorWithTheKernelsReason) {
  const fs::path dir = temp_dir("e2e-oom");
  write(dir / "oom.toml", R"([scenario]
name = "oom"
[[target]]
name = "small"
kind = "runc"
limits = { memory = "48MiB", pids = 512 }
[enforcer]
policies = [")" + std::string(ARMORBENCH_SOURCE_DIR) +
                              R"(/scenarios/policies/model-server.yaml"]
modes = ["off", "block"]
[[case]]
name = "benign"
requests = 4
)");
  const auto r = run_command(
      {ARMORBENCH_BIN, "run", (dir / "oom.toml").string(), "--out", (dir / "out").string()},
      std::chrono::minutes(4));
  EXPECT_EQ(r.status.code, 2) << r.out << r.err;
  const auto results = nlohmann::json::parse(read(dir / "out" / "results.json"));
  ASSERT_EQ(results["cases"].size(), 2u);
  for (const auto& c : results["cases"]) {  // off, and block: never a false positive
    EXPECT_EQ(c["verdict"], "error") << c.dump(2);
    const std::string reason = c["reason"];
    EXPECT_NE(reason.find("ended on its own: killed by SIGKILL"), std::string::npos) << reason;
    EXPECT_NE(reason.find("OOM killer"), std::string::npos) << reason;
    bool target = false;
    for (const auto& e : c["evidence"])
      if (e["kind"] == "target") {
        target = true;
        EXPECT_EQ(e["data"]["ended_before_stop"], true) << e.dump(2);
        EXPECT_GE(e["data"]["cgroup"]["memory_oom_kills"].get<int>(), 1) << e.dump(2);
      }
    EXPECT_TRUE(target) << c.dump(2);
  }
  EXPECT_NE(results["cases"][1]["reason"].get<std::string>().find("not the enforcement"),
            std::string::npos)
      << results["cases"][1]["reason"];
  EXPECT_EQ(leftovers(), std::vector<std::string>{});
}

TEST_F(RuncEndToEnd, NextRunRemovesWhatAKilledRunLeft) {
  const fs::path dir = temp_dir("e2e-next-run");
  ASSERT_NO_FATAL_FAILURE(kill_a_run_mid_case(dir));
  ASSERT_FALSE(leftovers().empty());

  const auto next = run_command({ARMORBENCH_BIN, "run", (dir / "e2e.toml").string(), "--out",
                                 (dir / "out").string(), "--filter", "benign-torch"},
                                std::chrono::minutes(3));
  EXPECT_EQ(next.status.code, 0) << next.out << next.err;
  EXPECT_NE(next.err.find("leftovers of runs whose process is gone"), std::string::npos)
      << next.err;
  EXPECT_NE(next.err.find("removed container ab-"), std::string::npos) << next.err;
  EXPECT_EQ(leftovers(), std::vector<std::string>{});
}

}  // namespace
}  // namespace armorbench
