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
#include <bpf/bpf.h>
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
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

// One operation each, shared by the timed rounds and the attribution pass; false when it failed
// (a refused exec or open would measure the denial, not the decision).
bool exec_true() {
  char* const argv[] = {const_cast<char*>("/usr/bin/true"), nullptr};
  const pid_t child = ::fork();
  if (child == 0) {
    ::execv(argv[0], argv);
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

bool open_close() {
  const int fd = ::openat(AT_FDCWD, "/etc/hostname", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

// A listener on an ephemeral loopback port; each connect is accepted and both ends closed.
class Loopback {
 public:
  Loopback() : listener_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    address_.sin_family = AF_INET;
    address_.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address_;
    ::bind(listener_.get(), reinterpret_cast<sockaddr*>(&address_), sizeof address_);
    ::listen(listener_.get(), 128);
    ::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&address_), &length);
  }
  bool connect_once() const {
    UniqueFd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (::connect(client.get(), reinterpret_cast<const sockaddr*>(&address_), sizeof address_) != 0)
      return false;
    UniqueFd accepted(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    return true;
  }

 private:
  UniqueFd listener_;
  sockaddr_in address_{};
};

void execve_wait(benchmark::State& state) {
  for (auto _ : state)
    if (!exec_true()) state.SkipWithError("the exec was refused");
}

void openat_close(benchmark::State& state) {
  for (auto _ : state)
    if (!open_close()) state.SkipWithError("open failed");
}

void connect_loopback(benchmark::State& state) {
  const Loopback loopback;
  for (auto _ : state)
    if (!loopback.connect_once()) state.SkipWithError("connect failed");
}

struct BenchedOperation {
  const char* name;
  void (*body)(benchmark::State&);
  double min_time;
};

const BenchedOperation kOperations[] = {{"execve_wait", execve_wait, 0.25},
                                        {"openat_close", openat_close, 0.1},
                                        {"connect_loopback", connect_loopback, 0.1}};

// Where block mode's time goes: with the kernel's BPF run-time statistics on (BPF_ENABLE_STATS,
// off again when its descriptor closes), each operation is repeated in block mode, inside and
// outside the scoped cgroup, and the run time and count of every program this enforcer loaded
// are read before and after. Set against block's extra time over off from the timed rounds, it
// splits the overhead into the programs' own work and the rest: the hook's dispatch and, for a
// syscall tracepoint, the tracing slow path every syscall of every process takes while one is
// attached. A separate pass, since the statistics cost two clock reads per program run. The
// statistics count a program's runs for every process on the host: on a busy host, others'
// syscalls during the pass land in the figures too (a quiet host is what ci/bench.sh wants).
struct Attribution {
  std::string operation;
  std::string scope;
  int ops = 0;
  double program_ns = 0;  // per operation, all of this enforcer's programs
  double runs = 0;        // program runs per operation
  std::string top;        // the program that ran longest
  double top_ns = 0;
  std::map<std::string, std::pair<double, double>> programs;  // name: runs, ns per operation
};

struct ProgramStats {
  std::string name;
  std::uint64_t run_ns = 0;
  std::uint64_t runs = 0;
};

std::map<std::uint32_t, ProgramStats> enforcer_programs() {
  std::map<std::uint32_t, ProgramStats> out;
  std::uint32_t id = 0;
  while (::bpf_prog_get_next_id(id, &id) == 0) {
    const UniqueFd fd(::bpf_prog_get_fd_by_id(id));
    if (!fd) continue;
    bpf_prog_info info{};
    std::uint32_t length = sizeof info;
    if (::bpf_obj_get_info_by_fd(fd.get(), &info, &length) != 0) continue;
    if (std::string_view(info.name).starts_with("ab_"))
      out[id] = {info.name, info.run_time_ns, info.run_cnt};
  }
  return out;
}

struct AttributedOperation {
  const char* name;
  int ops;
};
const AttributedOperation kAttributed[] = {
    {"execve_wait", 400}, {"openat_close", 200000}, {"connect_loopback", 20000}};

bool run_once(const std::string& operation, const Loopback& loopback) {
  if (operation == "execve_wait") return exec_true();
  if (operation == "openat_close") return open_close();
  return loopback.connect_once();
}

// Empty, with the reason on stderr, when the statistics cannot be turned on.
std::vector<Attribution> attribute(Lab& lab) {
  std::vector<Attribution> rows;
  lab.configure(Mode::kOff, false);
  const std::map<std::uint32_t, ProgramStats> foreign = enforcer_programs();  // other enforcers'
  const UniqueFd stats(::bpf_enable_stats(BPF_STATS_RUN_TIME));
  if (!stats) {
    std::fprintf(stderr, "attribution not measured: BPF_ENABLE_STATS failed: %s\n",
                 std::strerror(errno));
    return rows;
  }
  const Loopback loopback;
  for (const AttributedOperation& op : kAttributed) {
    for (bool inside : {false, true}) {
      lab.configure(Mode::kBlock, inside);
      std::map<std::uint32_t, ProgramStats> before = enforcer_programs();
      for (const auto& [id, unused] : foreign) before.erase(id);
      int done = 0;
      for (int i = 0; i < op.ops; ++i) done += run_once(op.name, loopback) ? 1 : 0;
      lab.drain();
      const std::map<std::uint32_t, ProgramStats> after = enforcer_programs();
      Attribution row;
      row.operation = op.name;
      row.scope = inside ? "inside" : "outside";
      row.ops = done;
      for (const auto& [id, was] : before) {
        const auto now = after.find(id);
        if (now == after.end()) continue;
        const double ns = static_cast<double>(now->second.run_ns - was.run_ns);
        row.program_ns += ns;
        const double runs = static_cast<double>(now->second.runs - was.runs);
        row.runs += runs;
        if (runs > 0) row.programs[was.name] = {runs, ns};
        if (ns > row.top_ns) {
          row.top_ns = ns;
          row.top = was.name;
        }
      }
      if (done > 0) {
        row.program_ns /= done;
        row.runs /= done;
        row.top_ns /= done;
        for (auto& [name, figures] : row.programs) {
          figures.first /= done;
          figures.second /= done;
        }
      }
      rows.push_back(row);
    }
  }
  lab.configure(Mode::kOff, false);
  return rows;
}

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

  // The median of one op/scope/mode over the rounds (0 when it was not measured).
  double median(const std::string& operation, const std::string& scope, const char* mode) const {
    const auto it = samples_.find(operation + "/" + scope + "/" + mode);
    if (it == samples_.end() || it->second.empty()) return 0.0;
    std::vector<double> v = it->second;
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  }

  // The ratio table and the attribution: printed for people, or as one JSON line (for a run
  // inside a guest VM, where the agent forwards the workload's first stdout line).
  void print_ratios(const std::string& backend, int rounds, bool json,
                    const std::vector<Attribution>& attribution) const {
    nlohmann::json rows = nlohmann::json::array();
    if (!json) {
      std::printf("\nenforcer overhead, backend %s, median of %d interleaved rounds (ns per op)\n",
                  backend.c_str(), rounds);
      std::printf("%-18s %-8s %12s %12s %12s %9s %9s %9s\n", "operation", "scope", "off", "audit",
                  "block", "audit/off", "block/off", "noise");
    }
    for (const BenchedOperation& op : kOperations) {
      for (const char* scope : {"outside", "inside"}) {
        const double off = median(op.name, scope, "off"), audit = median(op.name, scope, "audit"),
                     block = median(op.name, scope, "block"),
                     again = median(op.name, scope, "off-again");
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
    nlohmann::json attributed = nlohmann::json::array();
    if (!json && !attribution.empty()) {
      std::printf(
          "\nwhere block's extra time goes: its programs' run time (BPF run-time statistics, a "
          "separate pass)\nand the rest (the hook's dispatch; for a syscall tracepoint, the "
          "slow path of every syscall);\nprograms run for every process: other processes' syscalls "
          "in "
          "the pass count too\n");
      std::printf("%-18s %-8s %8s %12s %12s %9s %12s  %s\n", "operation", "scope", "ops", "extra",
                  "programs", "runs/op", "rest", "longest program (ns/op)");
    }
    for (const Attribution& a : attribution) {
      nlohmann::json programs = nlohmann::json::object();
      for (const auto& [name, figures] : a.programs)
        programs[name] = {{"runs_per_op", figures.first}, {"ns_per_op", figures.second}};
      const double extra =
          median(a.operation, a.scope, "block") - median(a.operation, a.scope, "off");
      if (json)
        attributed.push_back({{"operation", a.operation},
                              {"scope", a.scope},
                              {"ops", a.ops},
                              {"extra_ns", extra},
                              {"program_ns", a.program_ns},
                              {"runs_per_op", a.runs},
                              {"rest_ns", extra - a.program_ns},
                              {"top_program", a.top},
                              {"top_program_ns", a.top_ns},
                              {"programs", programs}});
      else
        std::printf("%-18s %-8s %8d %12.1f %12.1f %9.2f %12.1f  %s (%.1f)\n", a.operation.c_str(),
                    a.scope.c_str(), a.ops, extra, a.program_ns, a.runs, extra - a.program_ns,
                    a.top.empty() ? "-" : a.top.c_str(), a.top_ns);
    }
    if (json)
      std::printf("%s\n", nlohmann::json{{"event", "enforcer-bench"},
                                         {"backend", backend},
                                         {"rounds", rounds},
                                         {"rows", rows},
                                         {"attribution", attributed}}
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
  const std::vector<Attribution> attribution = attribute(lab);  // ends outside, enforcer off
  reporter.print_ratios(backend, rounds, json_summary, attribution);
  benchmark::Shutdown();
  return 0;
}
