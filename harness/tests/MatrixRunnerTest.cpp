// The runner with a fake target (no root, no runtime, no Python): positive controls run first
// and back the enforced verdict, an unavailable target is not-run with its reason, a failing
// launch is an error that does not stop the matrix, and an interrupt propagates after the
// sandbox was torn down.
#include "armorbench/harness/Orchestrator.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <thread>

#include "armorbench/base/Hex.h"
#include "armorbench/base/Interrupt.h"
#include "armorbench/harness/ScenarioLoader.h"

namespace armorbench {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

// What the fake target was asked to do, in order.
// Lanes launch from two threads: what the journal records is guarded.
struct Journal {
  std::mutex mutex;
  std::vector<std::string> launches;  // "case/mode"
  std::atomic<int> torn_down{0};
  std::atomic<int> alive{0};          // sandboxes not yet torn down
  std::atomic<int> solo_overlaps{0};  // a seccomp target's launch while another sandbox lived
};

struct FakeBehaviour {
  std::optional<std::string> unavailable;
  bool launch_fails = false;
  bool interrupt_on_ready = false;
  bool enforced_answers_differ = false;  // the enforcer "breaks" the model's numbers
};

// Answers the OIP requests of one connection with the model's one expected output.
UniqueFd fake_server(std::vector<float> output) {
  int fds[2];
  ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds);
  std::thread([fd = fds[1], output] {
    std::string buffer;
    char chunk[4096];
    for (;;) {
      const auto end = buffer.find("\r\n\r\n");
      if (end != std::string::npos) {
        std::size_t length = 0;
        if (auto cl = buffer.find("Content-Length: "); cl != std::string::npos && cl < end)
          length = std::stoul(buffer.substr(cl + 16));
        if (buffer.size() >= end + 4 + length) {
          const bool infer = buffer.rfind("POST", 0) == 0;
          buffer.erase(0, end + 4 + length);
          const std::string body = infer ? json{{"outputs", {{{"data", output}}}}}.dump() : "{}";
          const std::string answer =
              "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
              body;
          if (::write(fd, answer.data(), answer.size()) < 0) break;
          continue;
        }
      }
      const ssize_t n = ::read(fd, chunk, sizeof chunk);
      if (n <= 0) break;
      buffer.append(chunk, static_cast<std::size_t>(n));
    }
    ::close(fd);
  }).detach();
  return UniqueFd(fds[0]);
}

// In mode off the "payload" writes its marker; enforced, the enforcer blocks the write.
class FakeSandbox final : public Sandbox {
 public:
  FakeSandbox(Journal& journal, const FakeBehaviour& behaviour, const WorkloadSpec& workload,
              EnforcerMode mode)
      : journal_(journal), behaviour_(behaviour), workload_(workload), mode_(mode) {
    ++journal_.alive;
  }
  ~FakeSandbox() override {
    ++journal_.torn_down;
    --journal_.alive;
  }

  const SandboxInfo& info() const override { return info_; }
  ReadyResult wait_ready() override {
    if (behaviour_.interrupt_on_ready) throw Interrupted();
    ReadyResult ready;
    ready.ready = true;
    return ready;
  }
  UniqueFd connect_inference() override {
    const bool differ = behaviour_.enforced_answers_differ && mode_ != EnforcerMode::kOff;
    return fake_server({differ ? 0.75F : 0.5F});
  }
  enforcer::EnforcerReport enforcer_report() override {
    enforcer::EnforcerReport report;
    if (mode_ == EnforcerMode::kBlock) {
      enforcer::EventRecord denied;
      denied.operation = Operation::kOpen;
      denied.action = enforcer::EventAction::kBlock;
      denied.resource = "/tmp/declared";
      report.events.push_back(denied);
    }
    return report;
  }
  SandboxFinal stop(const std::vector<std::string>&) override { return {}; }
  json timings() const override { return json::object(); }

  std::string host_address() const override { return "127.0.0.1"; }
  std::optional<std::string> read_file(const std::string& path) override {
    if (mode_ == EnforcerMode::kOff && path == "/tmp/declared") return "pwned";
    return std::nullopt;
  }
  attacks::ModelHolder model_holder() override { return {::getpid(), "fake"}; }
  attacks::MemoryDumpInfo dump_memory(const fs::path&) override {
    throw unsupported_error("fake: no dump");
  }
  CommandResult run_sibling(const attacks::SiblingSpec&) override {
    throw unsupported_error("fake: no sibling");
  }

 private:
  Journal& journal_;
  FakeBehaviour behaviour_;
  WorkloadSpec workload_;
  EnforcerMode mode_;
  SandboxInfo info_;
};

class FakeTarget final : public Target {
 public:
  FakeTarget(TargetSpec spec, Journal& journal, FakeBehaviour behaviour)
      : spec_(std::move(spec)), journal_(journal), behaviour_(std::move(behaviour)) {}
  const TargetSpec& spec() const override { return spec_; }
  std::optional<std::string> unavailable_reason() override { return behaviour_.unavailable; }
  std::string host_address() const override { return "127.0.0.1"; }
  bool watches_exec() const override { return true; }
  std::unique_ptr<Sandbox> launch(const WorkloadSpec& workload, const EnforcementPlan& plan,
                                  bool) override {
    {
      std::lock_guard lock(journal_.mutex);
      journal_.launches.push_back(workload.model_file + "/" + to_string(plan.mode));
    }
    if (spec_.seccomp.mode != SeccompSpec::Mode::kUnconfined && journal_.alive > 0)
      ++journal_.solo_overlaps;
    if (behaviour_.launch_fails) throw harness_error("fake launch failed");
    return std::make_unique<FakeSandbox>(journal_, behaviour_, workload, plan.mode);
  }

 private:
  TargetSpec spec_;
  Journal& journal_;
  FakeBehaviour behaviour_;
};

class MatrixRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("matrix-runner-test-" + random_hex(4));
    fs::create_directories(dir_);
    std::ofstream(dir_ / "policy.toml") << "[policy]\nname = \"p\"\n";
    // A whole model file (scenarios refuse a broken one); the fake targets never load it.
    fs::copy_file(fs::path(ARMORBENCH_MODEL_FILES) / "linear.ts", dir_ / "evil.pt");
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::vector<Scenario> scenario(const std::string& modes) {
    std::ofstream(dir_ / "s.toml") << R"([scenario]
name = "fake"
[[target]]
name = "fake"
kind = "runc"
[enforcer]
policies = ["policy.toml"]
modes = )" << modes << R"(
[[case]]
name = "benign"
[[case]]
name = "writes"
model = { file = "evil.pt" }
attack = { kind = "custom", objective = { type = "file_created", path = "/tmp/declared" } }
settle = "0s"
)";
    return {load_scenario(dir_ / "s.toml")};
  }

  RunResults run(const std::vector<Scenario>& scenarios, FakeBehaviour behaviour,
                 std::optional<Shard> shard = std::nullopt, int jobs = 1) {
    RunOptions options;
    options.jobs = jobs;
    options.shard = shard;
    options.out_dir = dir_ / "out";
    options.resume = resume_;
    options.lease_dir = dir_ / "leases";
    options.make_target = [&, behaviour](const TargetSpec& spec, const TargetContext&) {
      return std::make_unique<FakeTarget>(spec, journal_, behaviour);
    };
    options.make_model = [](const std::string& generator, const std::vector<int>&,
                            const fs::path& model_dir) {
      // Every case here serves the generated MLP (a custom attack's undeclared file stands in
      // for its weights).
      EXPECT_EQ(generator, "mlp");
      fs::create_directories(model_dir);
      std::ofstream(model_dir / "model.json") << "{}";
      ModelArtifacts model;
      model.dir = model_dir;
      model.name = "mlp";
      model.canary_hex = "00112233";
      model.inputs = {{1.0F}};
      model.outputs = {{0.5F}};
      return model;
    };
    options.probe_host = [] { return HostFacts{}; };
    return run_matrix(scenarios, options, ProgressSink{});
  }

  // A declared model of one's own, in block mode only (its off run is implicit).
  Scenario byo_scenario() {
    std::ofstream(dir_ / "byo.toml") << R"([scenario]
name = "byo"
[[target]]
name = "fake"
kind = "runc"
[enforcer]
policies = ["policy.toml"]
modes = ["block"]
[[case]]
name = "mine"
model = { file = "evil.pt", format = "torchscript", inputs = [{ name = "x", datatype = "FP32", shape = [-1, 1] }] }
)";
    return load_scenario(dir_ / "byo.toml");
  }

  const CaseResult& find(const RunResults& r, const std::string& name, EnforcerMode mode) {
    for (const CaseResult& c : r.cases)
      if (c.case_name == name && c.mode == mode) return c;
    throw std::runtime_error("no result for " + name);
  }

  // results.jsonl cut to its first `keep` lines, and `tail` (a line a crash cut short) after.
  void cut_results_log(std::size_t keep, const std::string& tail = "") {
    const fs::path log = dir_ / "out" / "results.jsonl";
    std::ifstream in(log);
    std::string kept, line;
    for (std::size_t n = 0; n < keep && std::getline(in, line); ++n) kept += line + "\n";
    in.close();
    std::ofstream(log, std::ios::trunc) << kept << tail;
  }

  fs::path dir_;
  Journal journal_;
  bool resume_ = false;
};

TEST_F(MatrixRunnerTest, PositiveControlRunsFirstAndBacksTheBlock) {
  const auto scenarios = scenario(R"(["block"])");  // off is not listed: an implicit control
  const RunResults r = run(scenarios, {});
  ASSERT_EQ(journal_.launches.size(), 3u);
  // Executed mode by mode (the off runs first: the enforcer then loads once for the block runs).
  EXPECT_EQ(journal_.launches[0], "evil.pt/off");  // the control, before the attack
  EXPECT_EQ(journal_.launches[1], "model.pt/block");
  EXPECT_EQ(journal_.launches[2], "evil.pt/block");
  EXPECT_EQ(journal_.torn_down, 3);
  // Reported in plan order: case by case.
  ASSERT_EQ(r.cases.size(), 3u);
  EXPECT_EQ(r.cases[0].case_name, "benign");
  EXPECT_EQ(r.cases[1].mode, EnforcerMode::kOff);
  EXPECT_EQ(r.cases[2].mode, EnforcerMode::kBlock);
  EXPECT_EQ(find(r, "benign", EnforcerMode::kBlock).verdict, Verdict::kAllowed);
  EXPECT_EQ(find(r, "writes", EnforcerMode::kOff).verdict, Verdict::kReached);
  const CaseResult& blocked = find(r, "writes", EnforcerMode::kBlock);
  EXPECT_EQ(blocked.verdict, Verdict::kBlocked) << blocked.reason;
  EXPECT_EQ(blocked.objective["expected_operations"][0]["operation"], "open");
}

// Shards: every run in exactly one shard, a case's runs (and its control) together; merged, the
// shards are the unsharded run: the same case runs in the same order with the same verdicts,
// summaries and gates.
TEST_F(MatrixRunnerTest, ShardsPartitionTheMatrixAndMergeIntoTheUnshardedRun) {
  const auto scenarios = scenario(R"(["off", "block"])");
  const RunResults whole = run(scenarios, {});
  const std::vector<std::string> all_launches = journal_.launches;
  ASSERT_EQ(all_launches.size(), 4u);
  for (int count : {2, 3}) {
    std::vector<nlohmann::json> docs;
    std::vector<std::string> launched;
    for (int index = 1; index <= count; ++index) {
      journal_.launches.clear();
      const RunResults part = run(scenarios, {}, Shard{index, count});
      launched.insert(launched.end(), journal_.launches.begin(), journal_.launches.end());
      if (index == 3) {
        EXPECT_TRUE(part.cases.empty());  // more runners than cases
        EXPECT_EQ(part.exit_code, ExitCode::kOk);
      }
      docs.push_back(part.to_json());
    }
    std::vector<std::string> sorted_all = all_launches, sorted_launched = launched;
    std::sort(sorted_all.begin(), sorted_all.end());
    std::sort(sorted_launched.begin(), sorted_launched.end());
    EXPECT_EQ(sorted_launched, sorted_all) << count << " shards";  // each run exactly once
    // Given in any order, the shards merge into the whole run.
    std::reverse(docs.begin(), docs.end());
    const RunResults merged = merge_shards(docs, scenarios);
    ASSERT_EQ(merged.cases.size(), whole.cases.size());
    for (std::size_t i = 0; i < whole.cases.size(); ++i) {
      EXPECT_EQ(merged.cases[i].id(), whole.cases[i].id());
      EXPECT_EQ(merged.cases[i].verdict, whole.cases[i].verdict) << whole.cases[i].id();
    }
    const auto merged_json = merged.to_json(), whole_json = whole.to_json();
    EXPECT_EQ(merged_json["summary"]["by_target_mode"], whole_json["summary"]["by_target_mode"]);
    EXPECT_EQ(merged_json["summary"]["gates"], whole_json["summary"]["gates"]);
    EXPECT_EQ(merged.exit_code, whole.exit_code);
    EXPECT_EQ(merged_json["run"]["merged_from"].size(), static_cast<std::size_t>(count));
    // A missing or repeated shard is not the whole run.
    docs.pop_back();
    EXPECT_THROW(merge_shards(docs, scenarios), Error);
    docs.push_back(docs.front());
    EXPECT_THROW(merge_shards(docs, scenarios), Error);
  }
  EXPECT_THROW(merge_shards({whole.to_json()}, scenarios), Error);  // not a shard
  EXPECT_EQ(parse_shard("2/4").index, 2);
  EXPECT_THROW(parse_shard("5/4"), Error);
  EXPECT_THROW(parse_shard("0/4"), Error);
  EXPECT_THROW(parse_shard("1-4"), Error);
}

TEST_F(MatrixRunnerTest, UnavailableTargetIsNotRunWithItsReasonAndNeverLaunched) {
  FakeBehaviour behaviour;
  behaviour.unavailable = "no such hardware (fake)";
  const RunResults r = run(scenario(R"(["off", "block"])"), behaviour);
  EXPECT_TRUE(journal_.launches.empty());
  for (const CaseResult& c : r.cases) {
    EXPECT_EQ(c.verdict, Verdict::kNotRun);
    EXPECT_EQ(c.reason, "no such hardware (fake)");
  }
}

TEST_F(MatrixRunnerTest, AFailedLaunchIsAnErrorAndTheMatrixGoesOn) {
  FakeBehaviour behaviour;
  behaviour.launch_fails = true;
  const RunResults r = run(scenario(R"(["off", "block"])"), behaviour);
  EXPECT_EQ(journal_.launches.size(), 4u);
  for (const CaseResult& c : r.cases) {
    EXPECT_EQ(c.verdict, Verdict::kError);
    EXPECT_NE(c.reason.find("fake launch failed"), std::string::npos) << c.reason;
  }
  // The enforced attack had no valid control; it is still an error, not a block.
  EXPECT_EQ(find(r, "writes", EnforcerMode::kBlock).verdict, Verdict::kError);
}

TEST_F(MatrixRunnerTest, AnInterruptPropagatesAfterTheSandboxIsTornDown) {
  FakeBehaviour behaviour;
  behaviour.interrupt_on_ready = true;
  EXPECT_THROW(run(scenario(R"(["off"])"), behaviour), Interrupted);
  EXPECT_EQ(journal_.launches.size(), 1u);
  EXPECT_EQ(journal_.torn_down, 1);
  // The crash-safe record is there, with nothing half-written in it.
  EXPECT_TRUE(fs::exists(dir_ / "out" / "results.jsonl"));
  // With two lanes too: the lane that was not interrupted stops as well, nothing is left alive.
  journal_.launches.clear();
  EXPECT_THROW(run(scenario(R"(["off"])"), behaviour, std::nullopt, 2), Interrupted);
  EXPECT_EQ(journal_.alive, 0);
}

}  // namespace
}  // namespace armorbench

namespace armorbench {
namespace {

TEST_F(MatrixRunnerTest, AVmTargetsIsolationIsJudgedAgainstAnImplicitReferenceRuncFirst) {
  std::ofstream(dir_ / "vm.toml") << R"([scenario]
name = "vm"
[[target]]
name = "kata"
kind = "kata"
[[target]]
name = "cvm"
kind = "cvm"
launch_security = "sev-snp"
optional = true
[enforcer]
policies = ["policy.toml"]
modes = ["block"]
[[case]]
name = "benign"
[[case]]
name = "writes"
model = { file = "evil.pt" }
attack = { kind = "custom", objective = { type = "canary_found", canary = "00112233" } }
expect_on = { cvm = { off = "prevented", block = "prevented" } }
)";
  const std::vector<Scenario> scenarios{load_scenario(dir_ / "vm.toml")};
  const Scenario& s = scenarios[0];
  ASSERT_EQ(s.targets.size(), 3u);
  EXPECT_EQ(s.targets[0].name, kImplicitReference);
  EXPECT_TRUE(s.targets[0].reference_only);
  EXPECT_EQ(s.targets[1].reference, kImplicitReference);  // kata: a plain container
  EXPECT_EQ(s.targets[2].reference, "kata");              // cvm: the VM without encryption
  std::vector<std::string> order;
  for (const PlannedRun& run : plan_runs(scenarios, std::nullopt, std::nullopt))
    order.push_back(run.case_spec->name + "/" + run.target->name + "/" + to_string(run.mode));
  EXPECT_EQ(order,
            (std::vector<std::string>{"benign/kata/block", "benign/cvm/block",
                                      "writes/reference-runc/off", "writes/kata/off",
                                      "writes/kata/block", "writes/cvm/off", "writes/cvm/block"}));
  // Executed target by target, references first, and per target its off runs before its
  // enforced ones: every case's controls still precede the runs judged against them.
  const std::vector<PlannedRun> planned = plan_runs(scenarios, std::nullopt, std::nullopt);
  const std::vector<std::size_t> execution = execution_order(planned);
  order.clear();
  for (std::size_t i : execution)
    order.push_back(planned[i].case_spec->name + "/" + planned[i].target->name + "/" +
                    to_string(planned[i].mode));
  EXPECT_EQ(order,
            (std::vector<std::string>{"writes/reference-runc/off", "writes/kata/off",
                                      "benign/kata/block", "writes/kata/block", "writes/cvm/off",
                                      "benign/cvm/block", "writes/cvm/block"}));
  // After another scenario, its reference runs still go first: a VM lane waits for them.
  std::vector<Scenario> two = scenario(R"(["off", "block"])");
  two.push_back(scenarios[0]);
  const std::vector<PlannedRun> planned_two = plan_runs(two, std::nullopt, std::nullopt);
  const std::vector<std::size_t> execution_two = execution_order(planned_two);
  EXPECT_EQ(planned_two[execution_two.front()].target->name, kImplicitReference);
  EXPECT_EQ(planned_two[execution_two[1]].scenario->name, "fake");
  EXPECT_EQ(expected_verdict(s.cases[1], EnforcerMode::kBlock, "cvm"), Verdict::kPrevented);
  EXPECT_EQ(expected_verdict(s.cases[1], EnforcerMode::kBlock, "kata"), Verdict::kBlocked);
  // --target cvm still runs the off runs of its references, and nothing else of theirs.
  order.clear();
  for (const PlannedRun& run : plan_runs(scenarios, std::string("writes"), std::string("cvm")))
    order.push_back(run.target->name + "/" + to_string(run.mode));
  EXPECT_EQ(order,
            (std::vector<std::string>{"reference-runc/off", "kata/off", "cvm/off", "cvm/block"}));
}

// Two lanes (containers, VMs) give the same results in the same order as one: a VM run judged
// against its container reference waits for it, and a container with a seccomp profile runs
// while nothing else does.
TEST_F(MatrixRunnerTest, TwoLanesGiveTheResultsOfOneAndKeepTheirDependencies) {
  std::ofstream(dir_ / "lanes.toml") << R"([scenario]
name = "lanes"
[[target]]
name = "plain"
kind = "runc"
[[target]]
name = "confined"
kind = "runc"
seccomp = "runtime-default"
[[target]]
name = "kata"
kind = "kata"
[enforcer]
policies = ["policy.toml"]
modes = ["off", "block"]
[[case]]
name = "benign"
[[case]]
name = "writes"
model = { file = "evil.pt" }
attack = { kind = "custom", objective = { type = "file_created", path = "/tmp/declared" } }
settle = "0s"
[[case]]
name = "writes-too"
model = { file = "evil.pt" }
attack = { kind = "custom", objective = { type = "file_created", path = "/tmp/declared" } }
settle = "0s"
)";
  const std::vector<Scenario> scenarios{load_scenario(dir_ / "lanes.toml")};
  const RunResults one = run(scenarios, {}, std::nullopt, 1);
  const std::size_t launched_by_one = journal_.launches.size();
  journal_.launches.clear();
  const RunResults two = run(scenarios, {}, std::nullopt, 2);
  EXPECT_EQ(journal_.launches.size(), launched_by_one);
  EXPECT_EQ(journal_.solo_overlaps, 0);
  EXPECT_EQ(two.run["jobs"], 2);
  ASSERT_EQ(two.cases.size(), one.cases.size());
  for (std::size_t i = 0; i < one.cases.size(); ++i) {
    EXPECT_EQ(two.cases[i].id(), one.cases[i].id());
    EXPECT_EQ(two.cases[i].verdict, one.cases[i].verdict) << two.cases[i].id();
    EXPECT_EQ(two.cases[i].reason, one.cases[i].reason) << two.cases[i].id();
  }
  // The kata runs were judged with their reference's control in hand.
  bool judged = false;
  for (const CaseResult& c : two.cases)
    if (c.target == "kata" && c.case_name == "writes" && c.mode == EnforcerMode::kBlock) {
      judged = true;
      EXPECT_EQ(c.verdict, Verdict::kBlocked) << c.reason;
    }
  EXPECT_TRUE(judged);
}

TEST_F(MatrixRunnerTest, ADeclaredModelIsCheckedAgainstItsOwnOffRun) {
  RunResults r = run({byo_scenario()}, {});
  // No off mode listed: the reference answers come from an implicit off run, first.
  ASSERT_EQ(journal_.launches.size(), 2u);
  EXPECT_EQ(journal_.launches[0], "evil.pt/off");
  EXPECT_EQ(journal_.launches[1], "evil.pt/block");
  EXPECT_EQ(find(r, "mine", EnforcerMode::kOff).verdict, Verdict::kAllowed);
  const CaseResult& block = find(r, "mine", EnforcerMode::kBlock);
  EXPECT_EQ(block.verdict, Verdict::kAllowed) << block.reason;

  // Other numbers under enforcement than without: a false positive, said how.
  FakeBehaviour differ;
  differ.enforced_answers_differ = true;
  r = run({byo_scenario()}, differ);
  const CaseResult& disrupted = find(r, "mine", EnforcerMode::kBlock);
  EXPECT_EQ(disrupted.verdict, Verdict::kDisrupted) << disrupted.reason;
  EXPECT_NE(disrupted.reason.find("differs from the off run's answer"), std::string::npos)
      << disrupted.reason;
}

TEST_F(MatrixRunnerTest, ADeclaredModelWithoutReferenceAnswersIsInvalidUnderEnforcement) {
  FakeBehaviour unavailable_off;  // the off run cannot even launch: no reference answers
  unavailable_off.launch_fails = true;
  const RunResults r = run({byo_scenario()}, unavailable_off);
  EXPECT_EQ(find(r, "mine", EnforcerMode::kOff).verdict, Verdict::kError);
  const CaseResult& block = find(r, "mine", EnforcerMode::kBlock);
  EXPECT_EQ(block.verdict, Verdict::kInvalid) << block.reason;
  EXPECT_NE(block.reason.find("no reference answers"), std::string::npos) << block.reason;
}

// --resume: the runs a killed run finished are kept, the rest run, and the results are the
// whole run's; a line the kill cut short is run again.
TEST_F(MatrixRunnerTest, AResumedRunKeepsWhatFinishedAndRunsTheRest) {
  const auto scenarios = scenario(R"(["off", "block"])");
  const RunResults whole = run(scenarios, {});
  ASSERT_EQ(journal_.launches.size(), 4u);
  cut_results_log(2, R"({"scenario":"s","case":"wri)");

  journal_.launches.clear();
  resume_ = true;
  const RunResults resumed = run(scenarios, {});
  EXPECT_EQ(journal_.launches.size(), 2u) << "only the runs without a whole line ran";
  ASSERT_EQ(resumed.cases.size(), whole.cases.size());
  for (std::size_t i = 0; i < whole.cases.size(); ++i) {
    EXPECT_EQ(resumed.cases[i].id(), whole.cases[i].id());
    EXPECT_EQ(resumed.cases[i].verdict, whole.cases[i].verdict) << whole.cases[i].id();
  }
  EXPECT_EQ(resumed.run["resumed"]["kept"], 2);
  EXPECT_EQ(resumed.run["resumed"]["partial_lines_ignored"], 1);
  EXPECT_EQ(resumed.run["resumed"]["from"], whole.run["id"]);
  // The log is whole again: a second resume keeps everything and runs nothing.
  journal_.launches.clear();
  const RunResults again = run(scenarios, {});
  EXPECT_TRUE(journal_.launches.empty());
  EXPECT_EQ(again.run["resumed"]["kept"], 4);
  EXPECT_EQ(again.exit_code, whole.exit_code);
}

TEST_F(MatrixRunnerTest, AResumedDeclaredModelRunsItsOffRunAgainForTheReferenceAnswers) {
  const RunResults whole = run({byo_scenario()}, {});
  cut_results_log(1);  // the off run finished, the block run did not
  journal_.launches.clear();
  resume_ = true;
  const RunResults resumed = run({byo_scenario()}, {});
  ASSERT_EQ(journal_.launches.size(), 2u);
  EXPECT_EQ(journal_.launches[0], "evil.pt/off") << "the reference answers are made again";
  EXPECT_EQ(find(resumed, "mine", EnforcerMode::kBlock).verdict, Verdict::kAllowed)
      << find(resumed, "mine", EnforcerMode::kBlock).reason;
}

TEST_F(MatrixRunnerTest, AResumeOfAnotherRunIsRefused) {
  const auto scenarios = scenario(R"(["off", "block"])");
  run(scenarios, {});
  resume_ = true;
  const auto refused = [&](const auto& change, const std::string& fragment) {
    try {
      change();
      ADD_FAILURE() << "resumed: " << fragment;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInput);
      EXPECT_NE(e.describe().find(fragment), std::string::npos) << e.describe();
    }
  };
  refused([&] { run(scenarios, {}, Shard{1, 2}); }, "was asked for --shard null");
  refused([&] { run({byo_scenario()}, {}); }, "other scenario, policy or model files");
  cut_results_log(1, "not json\n{}\n");
  refused([&] { run(scenarios, {}); }, "results.jsonl:2:1: not a case run record");
  fs::remove(dir_ / "out" / "run.json");
  refused([&] { run(scenarios, {}); }, "no run.json there");
}

}  // namespace
}  // namespace armorbench
