// Overhead of the enforcer on the syscalls a model server makes: fork+execve+wait, openat+close
// and a loopback TCP connect, with the enforcer off, in audit mode and in block mode (a realistic
// policy of ~50 rules), for this process inside the scoped cgroup and outside it.
//
// Runs are interleaved (round after round of off, audit, block) so that machine noise hits every
// mode alike; each figure is the median over rounds, and the ratio to `off` is computed from
// figures of the same run; a second `off` per round gives the run's noise floor ("noise"). Needs
// root (BPF, cgroups). --json-summary prints the table as one JSON line on stdout (how it reports
// from inside a guest VM, for the bpf-lsm backend).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <benchmark/benchmark.h>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "armorbench/base/UniqueFd.h"
#include "armorbench/enforcer/Enforcer.h"
#include "armorbench/enforcer/Policy.h"

namespace {
namespace fs = std::filesystem;
using namespace armorbench;
using namespace armorbench::enforcer;

// kOffAgain measures `off` a second time in each round, after block: its ratio to `off` is the
// noise floor of the run (an A/A comparison), against which the other ratios are to be read.
enum class Mode { kOff, kAudit, kBlock, kOffAgain };
const char* mode_name(Mode mode) {
  switch (mode) {
    case Mode::kOff:
      return "off";
    case Mode::kAudit:
      return "audit";
    case Mode::kBlock:
      return "block";
    case Mode::kOffAgain:
      return "off-again";
  }
  return "?";
}

// The policy measured (--policy=FILE; default the checkout's realistic-policy.toml).
std::string g_policy = ARMORBENCH_BENCH_POLICY;

// The cgroup this process is moved into for "inside" runs, and the enforcer of the current mode.
class Lab {
 public:
  Lab() {
    const fs::path v2 = fs::exists("/sys/fs/cgroup/unified/cgroup.procs") ? "/sys/fs/cgroup/unified"
                                                                          : "/sys/fs/cgroup";
    std::ifstream self("/proc/self/cgroup");
    for (std::string line; std::getline(self, line);)
      if (line.rfind("0::", 0) == 0) home_ = v2 / fs::path(line.substr(3)).relative_path();
    scoped_ = v2 / ("armorbench-bench-" + std::to_string(::getpid()));
    fs::create_directories(scoped_);
    struct stat st {};
    ::stat(scoped_.c_str(), &st);
    scoped_id_ = st.st_ino;
  }
  ~Lab() {
    enforcer_.reset();
    move_to(home_);
    ::rmdir(scoped_.c_str());
  }

  void configure(Mode mode, bool inside) {
    if (mode != mode_) {
      enforcer_.reset();
      if (mode == Mode::kAudit || mode == Mode::kBlock) {
        std::vector<Policy> policies = load_policy_file(g_policy);
        CompileOptions options;
        options.audit_only = mode == Mode::kAudit;
        enforcer_ = std::make_unique<Enforcer>(compile(policies, options), EnforcerOptions{});
        enforcer_->scope(Scope{scoped_id_, scoped_, true, false});
        backend_ = to_string(enforcer_->backend());
      }
      mode_ = mode;
    }
    if (inside != inside_) {
      move_to(inside ? scoped_ : home_);
      inside_ = inside;
    }
  }

  void drain() {
    if (enforcer_) enforcer_->poll(0);
  }
  const std::string& backend() const { return backend_; }

 private:
  void move_to(const fs::path& cgroup) {
    std::ofstream(cgroup / "cgroup.procs") << ::getpid() << std::endl;
  }

  fs::path home_;
  fs::path scoped_;
  std::uint64_t scoped_id_ = 0;
  Mode mode_ = Mode::kOff;
  bool inside_ = false;
  std::unique_ptr<Enforcer> enforcer_;
  std::string backend_ = "none";
};

Lab* g_lab = nullptr;

void execve_wait(benchmark::State& state) {
  char* const argv[] = {const_cast<char*>("/usr/bin/true"), nullptr};
  for (auto _ : state) {
    const pid_t child = ::fork();
    if (child == 0) {
      ::execv(argv[0], argv);
      ::_exit(127);
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) state.SkipWithError("the exec was refused");
  }
}

void openat_close(benchmark::State& state) {
  for (auto _ : state) {
    const int fd = ::openat(AT_FDCWD, "/etc/hostname", O_RDONLY | O_CLOEXEC);
    if (fd < 0) state.SkipWithError("open failed");
    ::close(fd);
  }
}

void connect_loopback(benchmark::State& state) {
  UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  ::bind(listener.get(), reinterpret_cast<sockaddr*>(&address), sizeof address);
  ::listen(listener.get(), 128);
  ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&address), &length);
  for (auto _ : state) {
    UniqueFd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (::connect(client.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
      state.SkipWithError("connect failed");
    UniqueFd accepted(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  }
}

struct BenchedOperation {
  const char* name;
  void (*body)(benchmark::State&);
  double min_time;
};

const BenchedOperation kOperations[] = {{"execve_wait", execve_wait, 0.25},
                                        {"openat_close", openat_close, 0.1},
                                        {"connect_loopback", connect_loopback, 0.1}};

// Collects per-iteration times; prints the ratio table at the end.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.error_occurred) continue;
      // name: op/scope/mode/round:N
      const std::string name = run.benchmark_name();
      const auto round = name.rfind("/round");
      samples_[name.substr(0, round)].push_back(run.GetAdjustedRealTime());
    }
  }

  // The ratio table: printed for people, or as one JSON line (for a run inside a guest VM, where
  // the agent forwards the workload's first stdout line).
  void print_ratios(const std::string& backend, int rounds, bool json) const {
    nlohmann::json rows = nlohmann::json::array();
    if (!json) {
      std::printf("\nenforcer overhead, backend %s, median of %d interleaved rounds (ns per op)\n",
                  backend.c_str(), rounds);
      std::printf("%-18s %-8s %12s %12s %12s %9s %9s %9s\n", "operation", "scope", "off", "audit",
                  "block", "audit/off", "block/off", "noise");
    }
    for (const BenchedOperation& op : kOperations) {
      for (const char* scope : {"outside", "inside"}) {
        auto median = [&](const char* mode) {
          auto it = samples_.find(std::string(op.name) + "/" + scope + "/" + mode);
          if (it == samples_.end() || it->second.empty()) return 0.0;
          std::vector<double> v = it->second;
          std::sort(v.begin(), v.end());
          return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
        };
        const double off = median("off"), audit = median("audit"), block = median("block"),
                     again = median("off-again");
        const auto ratio = [off](double value) { return off > 0 ? value / off : 0; };
        if (json)
          rows.push_back({{"operation", op.name},
                          {"scope", scope},
                          {"off_ns", off},
                          {"audit_ns", audit},
                          {"block_ns", block},
                          {"audit_ratio", ratio(audit)},
                          {"block_ratio", ratio(block)},
                          {"noise_ratio", ratio(again)}});
        else
          std::printf("%-18s %-8s %12.1f %12.1f %12.1f %9.3f %9.3f %9.3f\n", op.name, scope, off,
                      audit, block, ratio(audit), ratio(block), ratio(again));
      }
    }
    if (json)
      std::printf(
          "%s\n",
          nlohmann::json{
              {"event", "enforcer-bench"}, {"backend", backend}, {"rounds", rounds}, {"rows", rows}}
              .dump()
              .c_str());
    std::fflush(stdout);
  }

 private:
  std::map<std::string, std::vector<double>> samples_;
};

}  // namespace

int main(int argc, char** argv) {
  if (::geteuid() != 0) {
    std::fprintf(stderr, "armorbench-enforcer-bench needs root (BPF, cgroups)\n");
    return 3;
  }
  int rounds = 5;
  bool json_summary = false;
  std::vector<char*> args{argv[0]};
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--rounds=", 0) == 0)
      rounds = std::max(1, std::stoi(arg.substr(9)));
    else if (arg == "--json-summary")
      json_summary = true;
    else if (arg.rfind("--policy=", 0) == 0)
      g_policy = arg.substr(9);  // e.g. planted in a guest that cannot read the checkout
    else
      args.push_back(argv[i]);
  }
  Lab lab;
  g_lab = &lab;
  for (int round = 1; round <= rounds; ++round) {
    for (Mode mode : {Mode::kOff, Mode::kAudit, Mode::kBlock, Mode::kOffAgain}) {
      for (const BenchedOperation& op : kOperations) {
        for (bool inside : {false, true}) {
          const std::string name = std::string(op.name) + "/" + (inside ? "inside" : "outside") +
                                   "/" + mode_name(mode) + "/round:" + std::to_string(round);
          benchmark::RegisterBenchmark(name.c_str(),
                                       [mode, inside, body = op.body](benchmark::State& state) {
                                         g_lab->configure(mode, inside);
                                         body(state);
                                         g_lab->drain();
                                       })
              ->MinTime(op.min_time)
              ->UseRealTime()
              ->Unit(benchmark::kNanosecond);
        }
      }
    }
  }
  int argc2 = static_cast<int>(args.size());
  benchmark::Initialize(&argc2, args.data());
  RatioReporter reporter;
  // With --json-summary the per-benchmark lines go to stderr: stdout carries only the summary.
  if (json_summary) reporter.SetOutputStream(&std::cerr);
  benchmark::RunSpecifiedBenchmarks(&reporter);
  // Leave the scoped cgroup before printing: the figures are final.
  lab.configure(Mode::kOff, false);
  const std::string backend = lab.backend();
  reporter.print_ratios(backend, rounds, json_summary);
  benchmark::Shutdown();
  return 0;
}
