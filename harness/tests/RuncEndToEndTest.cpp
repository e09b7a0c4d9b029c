// End to end on the real runtime (privileged, runs in CI): a scenario serving the generated
// model on runc, answers checked, results files present and valid, nothing left behind; and a
// run interrupted with SIGINT mid-case that still removes everything it created.
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <boost/property_tree/ptree.hpp>
#include <boost/property_tree/xml_parser.hpp>
#include <filesystem>
#include <fstream>
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

void write(const fs::path& file, const std::string& text) { std::ofstream(file) << text; }

std::string read(const fs::path& file) {
  std::ifstream in(file);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Everything a run leaves on the host if its cleanup failed: containers, mounts, cgroups, dirs.
std::vector<std::string> leftovers() {
  std::vector<std::string> found;
  const auto list = run_command({"runc", "list", "-q"}, std::chrono::seconds(10));
  std::istringstream ids(list.out);
  for (std::string id; std::getline(ids, id);)
    if (id.rfind("ab-", 0) == 0) found.push_back("container " + id);
  std::istringstream mounts(read("/proc/self/mountinfo"));
  for (std::string line; std::getline(mounts, line);)
    if (line.find("/armorbench-") != std::string::npos) found.push_back("mount " + line);
  for (const char* root : {"/sys/fs/cgroup/unified/armorbench", "/sys/fs/cgroup/pids/armorbench"})
    if (fs::is_directory(root))
      for (const auto& entry : fs::directory_iterator(root))
        if (entry.is_directory()) found.push_back("cgroup " + entry.path().string());
  for (const auto& entry : fs::directory_iterator("/var/tmp"))
    if (entry.path().filename().string().rfind("armorbench-", 0) == 0)
      found.push_back("dir " + entry.path().string());
  return found;
}

const char* kScenario = R"([scenario]
name = "e2e"
[[target]]
name = "runc"
kind = "runc"
rootfs = "host"
limits = { memory = "2GiB", pids = 512 }
[[case]]
name = "benign-torch"
loader = "torch"
requests = 8
[[case]]
name = "benign-safetensors"
loader = "safetensors"
requests = 8
)";

class RuncEndToEnd : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "privileged test: needs root (runc, cgroups, mounts); run "
                                  "`ctest -L unit` as a normal user";
    ASSERT_TRUE(leftovers().empty()) << "host not clean before the test";
  }
};

TEST_F(RuncEndToEnd, ServesTheModelAndWritesValidResults) {
  const fs::path dir = temp_dir("e2e-runc");
  write(dir / "e2e.toml", kScenario);
  const auto r = run_command({ARMORBENCH_BIN, "run", (dir / "e2e.toml").string(), "--out",
                              (dir / "out").string()},
                             std::chrono::minutes(5));
  ASSERT_EQ(r.status.code, 0) << r.out << r.err;

  const auto results = nlohmann::json::parse(read(dir / "out" / "results.json"));
  EXPECT_EQ(results["schema"], 1);
  ASSERT_EQ(results["cases"].size(), 2u);
  for (const auto& c : results["cases"]) {
    EXPECT_EQ(c["verdict"], "allowed") << c.dump(2);
    EXPECT_EQ(c["reason"], "served 8/8 requests correctly");
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
  EXPECT_EQ(junit.get<int>("testsuites.<xmlattr>.tests"), 2);
  EXPECT_EQ(junit.get<int>("testsuites.<xmlattr>.failures"), 0);
  EXPECT_NE(read(dir / "out" / "summary.md").find("| runc | off |"), std::string::npos);

  EXPECT_EQ(leftovers(), std::vector<std::string>{});
}

TEST_F(RuncEndToEnd, SigintMidCaseRemovesEverythingAndKeepsFinishedCases) {
  const fs::path dir = temp_dir("e2e-sigint");
  write(dir / "e2e.toml", std::string(kScenario) + "[[case]]\nname = \"long\"\nrequests = 100000\n");
  Subprocess run(Subprocess::Spec{{ARMORBENCH_BIN, "run", (dir / "e2e.toml").string(), "--out",
                                   (dir / "out").string()},
                                  Subprocess::Stdio::kNull, Subprocess::Stdio::kCapture, {}});
  // Wait until the third case's container serves: two finished lines are in results.jsonl.
  std::string buffer;
  int finished = 0;
  while (finished < 2) {
    auto line = read_line(run.stderr_fd(), buffer, std::chrono::minutes(3));
    ASSERT_TRUE(line.has_value()) << "armorbench ended early";
    if (line->find("allowed") != std::string::npos) ++finished;
  }
  bool container_seen = false;
  for (int i = 0; i < 600 && !container_seen; ++i) {
    const auto list = run_command({"runc", "list", "-q"}, std::chrono::seconds(10));
    container_seen = list.out.find("ab-") != std::string::npos;
    if (!container_seen) ::usleep(50'000);  // polling an external state: no event to wait on
  }
  ASSERT_TRUE(container_seen);
  ::kill(run.pid(), SIGINT);
  const auto status = run.wait_for(std::chrono::minutes(1));
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->code, 130);
  EXPECT_EQ(leftovers(), std::vector<std::string>{});
  std::istringstream jsonl(read(dir / "out" / "results.jsonl"));
  int lines = 0;
  for (std::string line; std::getline(jsonl, line);) ++lines;
  EXPECT_EQ(lines, 2) << "the finished cases survive the interrupt";
  EXPECT_FALSE(fs::exists(dir / "out" / "results.json")) << "no half-written results.json";
}

}  // namespace
}  // namespace armorbench
