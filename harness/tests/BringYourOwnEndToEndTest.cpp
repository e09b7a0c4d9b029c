// Bring-your-own models end to end (privileged, in CI): files a user brings, made by
// harness/tests/byo/make_user_models.py the way public samples are made, run through the CLI on
// runc, crun and the kata micro-VM. Benign TorchScript, full-pickle and state-dict models are
// served as declared and checked against their own off run; malicious pickles with each custom
// objective (exec, file_created, connect, canary_found) reach it without enforcement and get the
// verdict the policy earns, with the denial it rests on.
#include <netinet/in.h>
#include <sys/socket.h>
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
using nlohmann::json;

constexpr const char* kInputs =
    R"([{ name = "a", datatype = "FP32", shape = [-1, 4] }, { name = "b", datatype = "FP32", shape = [-1, 4] }])";

// A port nothing listens on now: the beacon payload is built with it, the harness binds it.
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

class BringYourOwn : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "privileged test: needs root (runc, BPF, libvirt)";
    dir_ = fs::path(::testing::TempDir()) / ("byo-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    port_ = free_port();
    const CommandResult made = run_command(
        {"/usr/bin/python3", std::string(ARMORBENCH_TEST_DATA) + "/byo/make_user_models.py",
         dir_.string(), std::to_string(port_), "127.0.0.1", "10.0.2.2"},
        std::chrono::minutes(3));
    ASSERT_TRUE(made.status.exited_ok()) << made.err;
    std::ifstream canary(dir_ / "canary.txt");
    std::getline(canary, canary_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string header(const std::string& name, const std::string& target,
                     const std::string& modes) const {
    const std::string policies = std::string(ARMORBENCH_SOURCE_DIR) + "/scenarios/policies/";
    return "[scenario]\nname = \"" + name + "\"\n\n" + target + "\n[enforcer]\npolicies = [\"" +
           policies + "model-server.yaml\", \"" + policies +
           "memory-protection.toml\"]\nmodes = " + modes + "\n";
  }
  std::string attack_case(const std::string& name, const std::string& file,
                          const std::string& objective, const std::string& extra = "") const {
    return "\n[[case]]\nname = \"" + name + "\"\nmodel = { file = \"" + file +
           "\" }\nattack = { kind = \"custom\", objective = " + objective + " }\nrequests = 2\n" +
           extra;
  }
  std::string steal_case() const {
    return "\n[[case]]\nname = \"steals-weights\"\nmodel = { file = \"net_module.pt\", format = "
           "\"module\", sources = [\"net.py\"], inputs = " +
           std::string(kInputs) +
           " }\nattack = { kind = \"custom\", objective = { type = \"canary_found\", canary = \"" +
           canary_ + "\" } }\nrequests = 2\n";
  }
  std::string connect_objective() const {
    return "{ type = \"connect\", port = " + std::to_string(port_) +
           ", contains = \"byo-beacon-token\" }";
  }

  json run(const std::vector<std::string>& scenarios, std::chrono::minutes limit) {
    std::vector<std::string> argv{ARMORBENCH_BIN, "run"};
    argv.insert(argv.end(), scenarios.begin(), scenarios.end());
    argv.insert(argv.end(), {"--out", (dir_ / "out").string()});
    const CommandResult r = run_command(argv, limit);
    EXPECT_EQ(r.status.code, 0) << r.out << r.err;
    std::ifstream in(dir_ / "out" / "results.json");
    return json::parse(in);
  }

  fs::path write(const std::string& name, const std::string& text) const {
    std::ofstream(dir_ / name) << text;
    return dir_ / name;
  }

  fs::path dir_;
  int port_ = 0;
  std::string canary_;
};

// "target:case/mode" -> the case run.
std::map<std::string, json> by_id(const json& results) {
  std::map<std::string, json> out;
  for (const auto& c : results["cases"])
    out[c["target"].get<std::string>() + ":" + c["case"].get<std::string>() + "/" +
        c["enforcer_mode"].get<std::string>()] = c;
  return out;
}

void expect_denial(const json& c, const std::string& operation, const std::string& resource) {
  const auto& attributed = c["attribution"]["attributed"];
  ASSERT_FALSE(attributed.empty()) << c.dump(2);
  EXPECT_EQ(attributed[0]["operation"], operation) << attributed;
  EXPECT_EQ(attributed[0]["resource"].get<std::string>().rfind(resource, 0), 0u) << attributed;
}

TEST_F(BringYourOwn, OnRuncAndCrunUserModelsAreServedAsDeclaredAndEveryObjectiveIsJudged) {
  std::string text =
      header("byo-runc",
             "[[target]]\nname = \"runc\"\nkind = \"runc\"\nlimits = { cpus = 1.0, "
             "memory = \"2GiB\", pids = 512 }\n\n[[target]]\nname = \"crun\"\n"
             "kind = \"crun\"\nlimits = { cpus = 1.0, memory = \"2GiB\", pids = 512 }\n",
             "[\"off\", \"block\"]");
  for (const auto& [name, model] : std::vector<std::pair<std::string, std::string>>{
           {"torchscript", "file = \"net.ts\", format = \"torchscript\""},
           {"module", "file = \"net_module.pt\", format = \"module\", sources = [\"net.py\"]"},
           {"state-dict",
            "file = \"net_state.pt\", format = \"state_dict\", architecture = { "
            "file = \"net.py\", class = \"Net\", kwargs = { width = 4 } }"}})
    text += "\n[[case]]\nname = \"" + name + "\"\nmodel = { " + model + ", inputs = " + kInputs +
            " }\nrequests = 8\n";
  text += attack_case("shells-out", "shells_out.pkl", "{ type = \"exec\", path = \"/bin/sh\" }");
  // The policy cannot forbid a server its own /tmp: reached, and said so.
  text += attack_case("writes-file", "writes_file.pkl",
                      "{ type = \"file_created\", path = \"/tmp/byo-file\", contains = "
                      "\"byo-file-written\" }",
                      "expect = { block = \"reached\" }\n");
  text += attack_case("beacon", "beacon_127.0.0.1.pkl", connect_objective());
  text += steal_case();
  const json results = run({write("byo-runc.toml", text).string()}, std::chrono::minutes(15));
  const auto runs = by_id(results);
  for (const std::string target : {"runc", "crun"}) {
    const auto run_of = [&](const std::string& id) -> const json& {
      return runs.at(target + ":" + id);
    };
    for (const char* name : {"torchscript", "module", "state-dict"})
      for (const char* mode : {"off", "block"}) {
        const json& c = run_of(std::string(name) + "/" + mode);
        EXPECT_EQ(c["verdict"], "allowed") << c.dump(2);
        if (c["latency"].is_object()) {
          EXPECT_EQ(c["latency"]["count"], 8) << name;
        }
      }
    for (const char* name : {"shells-out", "writes-file", "beacon", "steals-weights"})
      EXPECT_EQ(run_of(std::string(name) + "/off")["verdict"], "reached") << target << name;
    const json& shell = run_of("shells-out/block");
    EXPECT_EQ(shell["verdict"], "blocked") << shell.dump(2);
    expect_denial(shell, "exec", fs::canonical("/bin/sh").string());
    EXPECT_EQ(run_of("writes-file/block")["verdict"], "reached");
    const json& beacon = run_of("beacon/block");
    EXPECT_EQ(beacon["verdict"], "blocked") << beacon.dump(2);
    expect_denial(beacon, "socket", "socket tcp");
    const json& steal = run_of("steals-weights/block");
    EXPECT_EQ(steal["verdict"], "blocked") << steal.dump(2);
    expect_denial(steal, "proc_mem", "/proc/");  // the dumper reads the map first
    EXPECT_EQ(steal["service"]["kept"], true) << "the dumper is killed, not the server";
  }
}

TEST_F(BringYourOwn, OnKataEveryCustomObjectiveIsObservedInTheGuest) {
  const std::string kata = "[[target]]\nname = \"kata\"\nkind = \"kata\"\nmemory = \"1536MiB\"\n";
  // The exec objective under the guest's bpf-lsm enforcer, off and block.
  const std::string enforced =
      header("byo-kata-block", kata, "[\"block\"]") +
      attack_case("shells-out", "shells_out.pkl", "{ type = \"exec\", path = \"/bin/sh\" }",
                  "timeout = \"300s\"\n");
  // Every other objective type observed in a guest (positive controls).
  const std::string observed =
      header("byo-kata-off", kata, "[\"off\"]") +
      attack_case("writes-file", "writes_file.pkl",
                  "{ type = \"file_created\", path = \"/tmp/byo-file\", contains = "
                  "\"byo-file-written\" }",
                  "timeout = \"300s\"\n") +
      attack_case("beacon", "beacon_10.0.2.2.pkl", connect_objective(), "timeout = \"300s\"\n") +
      steal_case() + "timeout = \"300s\"\n";
  const json results = run({write("byo-kata-block.toml", enforced).string(),
                            write("byo-kata-off.toml", observed).string()},
                           std::chrono::minutes(30));
  const auto runs = by_id(results);
  for (const char* name : {"shells-out", "writes-file", "beacon", "steals-weights"}) {
    const json& c = runs.at(std::string("kata:") + name + "/off");
    EXPECT_EQ(c["verdict"], "reached") << c.dump(2);
  }
  const json& shell = runs.at("kata:shells-out/block");
  EXPECT_EQ(shell["verdict"], "blocked") << shell.dump(2);
  expect_denial(shell, "exec", fs::canonical("/bin/sh").string());
  EXPECT_EQ(shell["attribution"]["attributed"][0]["by"], "enforcer (bpf-lsm)");
}

}  // namespace
}  // namespace armorbench
