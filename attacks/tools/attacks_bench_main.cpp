// armorbench-attacks-bench: measures the attacks' own speed, so that a "blocked" verdict can be
// told apart from "too slow to finish in the time limit": memory-scan throughput per read method
// against a torch-sized python3 process, canary-search speed on a buffer, the miner's hash
// rate, and time to first share against the in-process pool. Prints one JSON object with the
// raw samples and min/median/max per measurement.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "armorbench/attacks/CanarySearch.h"
#include "armorbench/attacks/FakeStratumPool.h"
#include "armorbench/attacks/HeaderHasher.h"
#include "armorbench/attacks/MemoryDumper.h"
#include "armorbench/base/UniqueFd.h"

namespace {

using namespace armorbench::attacks;
using armorbench::UniqueFd;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

nlohmann::json summarize(std::vector<double> samples, const char* unit) {
  std::sort(samples.begin(), samples.end());
  const double median = samples.empty() ? 0
                        : samples.size() % 2
                            ? samples[samples.size() / 2]
                            : (samples[samples.size() / 2 - 1] + samples[samples.size() / 2]) / 2;
  return {{"unit", unit},
          {"min", samples.empty() ? 0 : samples.front()},
          {"median", median},
          {"max", samples.empty() ? 0 : samples.back()},
          {"samples", samples}};
}

double self_cpu_seconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& tv) { return tv.tv_sec + tv.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

std::vector<std::uint8_t> random_canary(std::mt19937_64& rng) {
  std::vector<std::uint8_t> canary(32);
  for (auto& b : canary) b = static_cast<std::uint8_t>(rng());
  return canary;
}

// A python3 with torch imported and a tensor of `tensor_mb` MB of random weights, waiting on its
// stdin. Ready when it prints "ready"; ends when we close its stdin (or are destroyed).
class TorchProcess {
 public:
  TorchProcess(const std::string& python, int tensor_mb) {
    int in[2];
    int out[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0)
      throw std::runtime_error("pipe");
    const std::string code =
        "import sys, torch\n"
        "w = torch.rand(" +
        std::to_string(tensor_mb) +
        " * 262144)\n"
        "print('ready', flush=True)\n"
        "sys.stdin.read()\n";
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork");
    if (pid_ == 0) {
      ::dup2(in[0], STDIN_FILENO);
      ::dup2(out[1], STDOUT_FILENO);
      ::execl(python.c_str(), python.c_str(), "-c", code.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    stdin_.reset(in[1]);
    stdout_.reset(out[0]);
    pollfd pfd{stdout_.get(), POLLIN, 0};
    std::string seen;
    const auto deadline = Clock::now() + std::chrono::seconds(120);
    while (seen.find("ready") == std::string::npos) {
      const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
      if (left <= 0 || ::poll(&pfd, 1, static_cast<int>(left)) <= 0) {
        throw std::runtime_error("python3 did not get ready");
      }
      char buf[256];
      const ssize_t n = ::read(stdout_.get(), buf, sizeof buf);
      if (n <= 0) throw std::runtime_error("python3 exited before ready (is torch installed?)");
      seen.append(buf, static_cast<std::size_t>(n));
    }
  }
  ~TorchProcess() {
    stdin_.reset();
    int status;
    ::waitpid(pid_, &status, 0);
  }
  pid_t pid() const { return pid_; }

  long rss_kb() const {
    FILE* f = std::fopen(("/proc/" + std::to_string(pid_) + "/status").c_str(), "r");
    if (!f) return 0;
    char line[256];
    long kb = 0;
    while (std::fgets(line, sizeof line, f)) {
      if (std::strncmp(line, "VmRSS:", 6) == 0) kb = std::atol(line + 6);
    }
    std::fclose(f);
    return kb;
  }

 private:
  pid_t pid_ = -1;
  UniqueFd stdin_;
  // Kept open while the target lives: with PYTHONUNBUFFERED set, print() writes "ready" and
  // "\n" separately, and closing the pipe after "ready" killed python with a BrokenPipeError.
  UniqueFd stdout_;
};

nlohmann::json bench_scan(const std::string& python, int tensor_mb, int repetitions,
                          std::mt19937_64& rng) {
  TorchProcess target(python, tensor_mb);
  nlohmann::json out;
  out["target_rss_kb"] = target.rss_kb();
  for (auto method : {ReadMethod::kProcessVmReadv, ReadMethod::kProcMem, ReadMethod::kPtrace,
                      ReadMethod::kIoUring}) {
    std::vector<double> mbps;
    std::vector<double> cpu_ms;
    std::uint64_t bytes = 0;
    for (int i = 0; i < repetitions; ++i) {
      // An absent canary forces a complete scan: the throughput of a full dump.
      const double cpu_before = self_cpu_seconds();
      const auto result = MemoryDumper().scan(target.pid(), random_canary(rng), method);
      cpu_ms.push_back((self_cpu_seconds() - cpu_before) * 1e3);
      if (result.failed || result.found)
        throw std::runtime_error("scan failed: " + result.to_json().dump());
      bytes = result.bytes_scanned;
      mbps.push_back(result.bytes_scanned / 1e6 / (result.elapsed_ms / 1e3));
    }
    out[std::string(to_string(method))] = {{"bytes_scanned", bytes},
                                           {"throughput", summarize(mbps, "MB/s")},
                                           {"cpu", summarize(cpu_ms, "ms per scan")}};
  }
  return out;
}

nlohmann::json bench_search(std::mt19937_64& rng, int repetitions) {
  // Random bytes (weights) and zeros (untouched pages): the two extremes of a dump.
  std::vector<std::uint8_t> random_data(256 << 20);
  for (auto& b : random_data) b = static_cast<std::uint8_t>(rng());
  std::vector<std::uint8_t> zeros(256 << 20, 0);
  nlohmann::json out;
  for (const auto& [name, data] : {std::pair{"random", &random_data}, std::pair{"zeros", &zeros}}) {
    std::vector<double> mbps;
    for (int i = 0; i < repetitions; ++i) {
      CanarySearch search(random_canary(rng));
      const auto start = Clock::now();
      for (std::size_t off = 0; off < data->size(); off += 1 << 20) {
        if (search.feed({data->data() + off, 1 << 20}, off))
          throw std::runtime_error("false match");
      }
      mbps.push_back(data->size() / 1e6 /
                     std::chrono::duration<double>(Clock::now() - start).count());
    }
    out[name] = summarize(mbps, "MB/s");
  }
  return out;
}

nlohmann::json bench_hash(int repetitions) {
  StratumJob job;
  job.version = 0x20000000;
  const HeaderHasher hasher(job.header(armorbench::Sha256::digest(job.coinb1), 0x66000000, 0));
  // A target nothing meets, so every call hashes the whole range.
  const auto impossible = ShareTarget::from_difficulty(1e30);
  std::vector<double> per_cpu_second;
  for (int i = 0; i < repetitions; ++i) {
    constexpr std::uint32_t kCount = 1u << 21;
    timespec a{};
    timespec b{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
    if (hasher.search(static_cast<std::uint32_t>(i) * kCount, kCount, impossible)) {
      throw std::runtime_error("impossible target met");
    }
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
    const double seconds = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
    per_cpu_second.push_back(kCount / seconds);
  }
  return summarize(per_cpu_second, "double-SHA-256 headers per CPU second");
}

nlohmann::json bench_first_share(const std::string& miner, int repetitions) {
  std::vector<double> pool_latency_ms;
  for (int i = 0; i < repetitions; ++i) {
    FakeStratumPool pool;
    const std::string endpoint = pool.endpoint();
    const pid_t pid = ::fork();
    if (pid == 0) {
      const int devnull = ::open("/dev/null", O_WRONLY);
      ::dup2(devnull, STDOUT_FILENO);
      ::execl(miner.c_str(), miner.c_str(), "--pool", endpoint.c_str(), "--user", "bench.w",
              "--max-shares", "1", "--max-seconds", "30", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    const bool got = pool.wait_for_valid_share(std::chrono::seconds(30));
    int status;
    ::waitpid(pid, &status, 0);
    if (!got) throw std::runtime_error("no share from the miner");
    pool_latency_ms.push_back(pool.first_share_latency()->count() / 1e3);
  }
  // Measured by the pool: from accepting the miner's connection to its first valid share.
  return {{"difficulty", FakeStratumPool().difficulty()},
          {"connect_to_first_valid_share", summarize(pool_latency_ms, "ms")}};
}

}  // namespace

int main(int argc, char** argv) {
  std::string python = "/usr/bin/python3";
  int tensor_mb = 72;
  int repetitions = 5;
  std::string what = "all";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--python") python = argv[i + 1];
    if (flag == "--tensor-mb") tensor_mb = std::atoi(argv[i + 1]);
    if (flag == "--repetitions") repetitions = std::atoi(argv[i + 1]);
    if (flag == "--only") what = argv[i + 1];
  }
  const auto miner =
      std::filesystem::canonical("/proc/self/exe").parent_path() / "armorbench-miner";
  std::mt19937_64 rng(std::random_device{}());
  nlohmann::json out;
  out["repetitions"] = repetitions;
  out["load_average"] = [] {
    double loads[3] = {0, 0, 0};
    ::getloadavg(loads, 3);
    return std::vector<double>(loads, loads + 3);
  }();
  try {
    if (what == "all" || what == "search") out["canary_search"] = bench_search(rng, repetitions);
    if (what == "all" || what == "hash") out["miner_hash"] = bench_hash(repetitions);
    if (what == "all" || what == "share")
      out["first_share"] = bench_first_share(miner, repetitions);
    if (what == "all" || what == "scan")
      out["memory_scan"] = bench_scan(python, tensor_mb, repetitions, rng);
  } catch (const std::exception& e) {
    out["error"] = e.what();
    std::cout << out.dump(2) << std::endl;
    return 2;
  }
  std::cout << out.dump(2) << std::endl;
  return 0;
}
