// Memory-dump attacker against a real process: a forked child holds a random canary that the
// test process itself only ever holds XOR-masked until after the fork, so a match can only come
// from the child's copy.
#include <elf.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "TestProcess.h"
#include "armorbench/attacks/MemoryDumper.h"
#include "armorbench/base/Hex.h"
#include "armorbench/base/UniqueFd.h"

namespace armorbench::attacks {
namespace {

using testing::TestProcess;
using Bytes = std::array<std::uint8_t, 32>;

// The canary as the test process keeps it: two random arrays whose XOR is the canary.
struct MaskedCanary {
  Bytes masked{};
  Bytes mask{};

  static MaskedCanary random() {
    std::random_device rd;
    MaskedCanary c;
    for (std::size_t i = 0; i < 32; ++i) {
      c.mask[i] = static_cast<std::uint8_t>(rd());
      c.masked[i] = static_cast<std::uint8_t>(rd());
    }
    return c;
  }
  // Only called after fork (in the parent) or in the child: never before the fork.
  Bytes unmask() const {
    Bytes plain{};
    for (std::size_t i = 0; i < 32; ++i) plain[i] = masked[i] ^ mask[i];
    return plain;
  }
};

enum class Placement {
  kHeap,          // malloc'ed: the ordinary case
  kPageStraddle,  // across a page boundary, so 4 KiB reads split it
};

// A forked child that puts the canary in its memory, reports where, and then waits, answering
// pings (to prove it runs) until its control pipe closes.
class CanaryChild {
 public:
  CanaryChild(const MaskedCanary& canary, Placement placement) {
    int to_child[2];
    int from_child[2];
    if (::pipe2(to_child, O_CLOEXEC) != 0 || ::pipe2(from_child, O_CLOEXEC) != 0) {
      throw std::runtime_error("pipe2 failed");
    }
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      ::close(to_child[1]);
      ::close(from_child[0]);
      run_child(canary, placement, to_child[0], from_child[1]);
    }
    control_.reset(to_child[1]);
    replies_.reset(from_child[0]);
    ::close(to_child[0]);
    ::close(from_child[1]);
    if (::read(replies_.get(), &address_, sizeof address_) != sizeof address_) {
      throw std::runtime_error("child did not report its canary address");
    }
  }
  ~CanaryChild() {
    control_.reset();  // EOF tells the child to exit
    int status;
    ::waitpid(pid_, &status, 0);
  }

  pid_t pid() const { return pid_; }
  std::uint64_t address() const { return address_; }

  // True when the child answers: it is running (not left stopped by a tracer).
  bool responds() {
    const char ping = 'p';
    char pong = 0;
    return ::write(control_.get(), &ping, 1) == 1 && ::read(replies_.get(), &pong, 1) == 1 &&
           pong == 'o';
  }

 private:
  [[noreturn]] static void run_child(const MaskedCanary& canary, Placement placement, int in,
                                     int out) {
    std::uint8_t* where = nullptr;
    if (placement == Placement::kHeap) {
      where = static_cast<std::uint8_t*>(std::malloc(32));
    } else {
      void* pages =
          ::mmap(nullptr, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (pages == MAP_FAILED) ::_exit(3);
      where = static_cast<std::uint8_t*>(pages) + 4096 - 13;
    }
    // Byte by byte through volatile stores so that no unmasked temporary lands elsewhere.
    volatile std::uint8_t* dst = where;
    for (std::size_t i = 0; i < 32; ++i) dst[i] = canary.masked[i] ^ canary.mask[i];
    const auto address = reinterpret_cast<std::uint64_t>(where);
    if (::write(out, &address, sizeof address) != sizeof address) ::_exit(4);
    char c;
    while (::read(in, &c, 1) == 1) {
      const char pong = 'o';
      if (::write(out, &pong, 1) != 1) break;
    }
    ::_exit(0);
  }

  pid_t pid_ = -1;
  UniqueFd control_;
  UniqueFd replies_;
  std::uint64_t address_ = 0;
};

std::string hex_address(std::uint64_t address) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(address));
  return buf;
}

class MemoryDumperMethodTest : public ::testing::TestWithParam<ReadMethod> {};

TEST_P(MemoryDumperMethodTest, FindsCanaryInChildHeap) {
  const auto canary = MaskedCanary::random();
  CanaryChild child(canary, Placement::kHeap);
  const auto needle = canary.unmask();
  const auto result = MemoryDumper().scan(child.pid(), needle, GetParam());
  for (const auto& e : result.errors) ADD_FAILURE() << e.stage << " " << e.message;
  ASSERT_TRUE(result.found);
  EXPECT_EQ(result.address, child.address());
  EXPECT_NE(result.region.find("[heap]"), std::string::npos) << result.region;
  EXPECT_EQ(result.outcome(), ScanOutcome::kFound);
  EXPECT_GT(result.bytes_scanned, 0u);
  EXPECT_GT(result.regions_scanned, 0u);
  EXPECT_TRUE(child.responds()) << "target left stopped after the scan";
}

TEST_P(MemoryDumperMethodTest, FindsCanarySplitAcrossReadChunks) {
  const auto canary = MaskedCanary::random();
  CanaryChild child(canary, Placement::kPageStraddle);
  // One page per read: the canary's first 13 bytes come from one read, the rest from the next.
  const auto result = MemoryDumper(ScanOptions{.max_bytes = 0, .chunk_bytes = 4096})
                          .scan(child.pid(), canary.unmask(), GetParam());
  ASSERT_TRUE(result.found);
  EXPECT_EQ(result.address, child.address());
  EXPECT_EQ(result.address % 4096, 4096u - 13);
  EXPECT_TRUE(child.responds());
}

TEST_P(MemoryDumperMethodTest, WrongCanaryIsNotFoundAfterFullScan) {
  const auto canary = MaskedCanary::random();
  CanaryChild child(canary, Placement::kHeap);
  const auto wrong = MaskedCanary::random().unmask();
  const auto result = MemoryDumper().scan(child.pid(), wrong, GetParam());
  EXPECT_FALSE(result.found);
  EXPECT_FALSE(result.failed);
  EXPECT_FALSE(result.truncated);
  EXPECT_EQ(result.outcome(), ScanOutcome::kNotFound);
  EXPECT_TRUE(child.responds());
}

INSTANTIATE_TEST_SUITE_P(AllMethods, MemoryDumperMethodTest,
                         ::testing::Values(ReadMethod::kProcessVmReadv, ReadMethod::kProcMem,
                                           ReadMethod::kPtrace, ReadMethod::kIoUring),
                         [](const auto& info) { return std::string(to_string(info.param)); });

TEST(MemoryDumperTest, MaxBytesTruncatesTheScan) {
  const auto canary = MaskedCanary::random();
  CanaryChild child(canary, Placement::kHeap);
  const auto result = MemoryDumper(ScanOptions{.max_bytes = 8192, .chunk_bytes = 4096})
                          .scan(child.pid(), MaskedCanary::random().unmask(), ReadMethod::kProcMem);
  EXPECT_FALSE(result.found);
  EXPECT_TRUE(result.truncated);
  EXPECT_EQ(result.bytes_scanned, 8192u);
}

TEST(MemoryDumperTest, MissingProcessFailsAtOpenMaps) {
  // pid_max is at most 2^22 on Linux: this pid cannot exist.
  const auto result =
      MemoryDumper().scan(4194305 + 7, MaskedCanary::random().unmask(), ReadMethod::kProcMem);
  EXPECT_TRUE(result.failed);
  EXPECT_EQ(result.outcome(), ScanOutcome::kFailed);
  ASSERT_FALSE(result.errors.empty());
  EXPECT_EQ(result.errors[0].stage, "open_maps");
  EXPECT_EQ(result.errors[0].error_number, ENOENT);
}

// Runs armorbench-memdump and parses its single JSON object.
struct CliRun {
  testing::ProcessExit exit;
  nlohmann::json json;
};

CliRun run_memdump(const std::vector<std::string>& args,
                   const std::function<void()>& in_child = {},
                   const std::string& binary = ARMORBENCH_MEMDUMP_PATH) {
  std::vector<std::string> argv{binary};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back("--json");
  TestProcess process(argv, in_child);
  const auto exit = process.finish(std::chrono::seconds(60));
  if (!exit) throw std::runtime_error("armorbench-memdump timed out");
  return {*exit, nlohmann::json::parse(process.output())};
}

TEST(MemdumpCliTest, FoundExitsZeroWithAddressForEachMethod) {
  const auto canary = MaskedCanary::random();
  CanaryChild child(canary, Placement::kHeap);
  const auto plain = canary.unmask();
  for (const char* method : {"process_vm_readv", "proc_mem", "ptrace", "io_uring"}) {
    const auto run = run_memdump(
        {"--pid", std::to_string(child.pid()), "--canary", to_hex(plain), "--method", method});
    EXPECT_EQ(run.exit.code, 0) << method << ": " << run.json.dump();
    EXPECT_EQ(run.json["method"], method);
    EXPECT_EQ(run.json["pid"], child.pid());
    EXPECT_EQ(run.json["found"], true);
    EXPECT_EQ(run.json["address"], hex_address(child.address()));
    EXPECT_TRUE(run.json["region"].get<std::string>().find("[heap]") != std::string::npos);
    EXPECT_GT(run.json["bytes_scanned"].get<std::uint64_t>(), 0u);
    EXPECT_GT(run.json["regions_scanned"].get<std::uint64_t>(), 0u);
    EXPECT_GE(run.json["elapsed_ms"].get<double>(), 0.0);
    EXPECT_TRUE(run.json["errors"].is_array());
    EXPECT_TRUE(child.responds());
  }
}

TEST(MemdumpCliTest, WrongCanaryExitsOneWithFoundFalse) {
  const auto canary = MaskedCanary::random();
  CanaryChild child(canary, Placement::kHeap);
  const auto run =
      run_memdump({"--pid", std::to_string(child.pid()), "--canary",
                   to_hex(MaskedCanary::random().unmask()), "--method", "process_vm_readv"});
  EXPECT_EQ(run.exit.code, 1) << run.json.dump();
  EXPECT_EQ(run.json["found"], false);
  EXPECT_TRUE(run.json["address"].is_null());
  EXPECT_GT(run.json["bytes_scanned"].get<std::uint64_t>(), 0u);
}

TEST(MemdumpCliTest, UsageErrorExitsFour) {
  const auto run_exit = [](std::vector<std::string> argv) {
    argv.insert(argv.begin(), ARMORBENCH_MEMDUMP_PATH);
    TestProcess process(argv);
    return process.finish(std::chrono::seconds(10))->code;
  };
  EXPECT_EQ(run_exit({"--pid", "1", "--canary", "zz", "--method", "ptrace"}), 4);
  EXPECT_EQ(run_exit({"--pid", "1", "--canary", "00", "--method", "telepathy"}), 4);
  EXPECT_EQ(run_exit({"--canary", "00"}), 4);
}

TEST(MemdumpCliTest, MissingPidExitsTwoWithOpenMapsErrno) {
  const auto run = run_memdump({"--pid", "4194312", "--canary",
                                to_hex(MaskedCanary::random().unmask()), "--method", "proc_mem"});
  EXPECT_EQ(run.exit.code, 2);
  ASSERT_EQ(run.json["errors"].size(), 1u);
  EXPECT_EQ(run.json["errors"][0]["stage"], "open_maps");
  EXPECT_EQ(run.json["errors"][0]["errno"], ENOENT);
}

#if defined(__x86_64__)
// Installs a seccomp filter that fails the given syscalls with `err`, standing in for an enforcer
// that denies them: the tool must report the denial, not "not found". No allocation: it runs
// between fork and exec.
void fail_syscalls(std::initializer_list<int> nrs, int err) {
  std::array<sock_filter, 64> filter{};
  std::size_t n = 0;
  filter[n++] = BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch));
  filter[n++] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
  filter[n++] = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  filter[n++] = BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr));
  for (const int nr : nrs) {
    if (n + 3 > filter.size()) ::_exit(126);
    filter[n++] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<unsigned>(nr), 0, 1);
    filter[n++] = BPF_STMT(BPF_RET | BPF_K,
                           SECCOMP_RET_ERRNO | (static_cast<unsigned>(err) & SECCOMP_RET_DATA));
  }
  filter[n++] = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  sock_fprog prog{static_cast<unsigned short>(n), filter.data()};
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
      ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
    ::_exit(126);
  }
}

void deny_syscall_with_eperm(int nr) {
  fail_syscalls({nr}, EPERM);
}

// Runs `body` in a forked child and returns what it returned. For code that must run in this
// binary (not exec'ed) but under restrictions that would break the test runner itself.
std::string run_in_forked_child(const std::function<std::string()>& body) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  UniqueFd from_child(pipe_fds[0]);
  UniqueFd to_parent(pipe_fds[1]);
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    std::string out;
    try {
      out = body();
    } catch (...) {
      ::_exit(6);
    }
    for (std::size_t done = 0; done < out.size();) {
      const ssize_t n = ::write(to_parent.get(), out.data() + done, out.size() - done);
      if (n <= 0) ::_exit(5);
      done += static_cast<std::size_t>(n);
    }
    ::_exit(0);
  }
  to_parent.reset();
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    pollfd pfd{from_child.get(), POLLIN, 0};
    if (left <= 0 || ::poll(&pfd, 1, static_cast<int>(left)) <= 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      throw std::runtime_error("forked child timed out");
    }
    char buf[4096];
    const ssize_t n = ::read(from_child.get(), buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw std::runtime_error("forked child failed, wait status " + std::to_string(status));
  }
  return out;
}

// The io_uring method is meant to get past enforcers that watch the open/read syscalls. Deny
// all of them (and the other methods' syscalls) with seccomp after this binary is loaded, and
// the io_uring scan must still find the canary while the proc_mem scan, the positive control
// for the filter, is denied at its first open.
TEST(MemoryDumperTest, IoUringFindsCanaryWithOpenAndReadSyscallsDenied) {
  const auto canary = MaskedCanary::random();
  CanaryChild child(canary, Placement::kHeap);
  const auto needle = canary.unmask();
  const auto out = nlohmann::json::parse(run_in_forked_child([&] {
    fail_syscalls({SYS_open, SYS_openat, SYS_openat2, SYS_creat, SYS_read, SYS_pread64, SYS_readv,
                   SYS_preadv, SYS_preadv2, SYS_process_vm_readv, SYS_ptrace},
                  EPERM);
    nlohmann::json report;
    report["direct_open_errno"] = ::open("/proc/self/maps", O_RDONLY) < 0 ? errno : 0;
    report["proc_mem"] = MemoryDumper().scan(child.pid(), needle, ReadMethod::kProcMem).to_json();
    report["io_uring"] = MemoryDumper().scan(child.pid(), needle, ReadMethod::kIoUring).to_json();
    return report.dump();
  }));
  EXPECT_EQ(out["direct_open_errno"], EPERM);
  const auto& control = out["proc_mem"];
  EXPECT_EQ(control["outcome"], "failed") << control.dump();
  ASSERT_EQ(control["errors"].size(), 1u) << control.dump();
  EXPECT_EQ(control["errors"][0]["stage"], "open_maps");
  EXPECT_EQ(control["errors"][0]["errno"], EPERM);
  const auto& scan = out["io_uring"];
  ASSERT_EQ(scan["outcome"], "found") << scan.dump();
  EXPECT_EQ(scan["address"], hex_address(child.address()));
  EXPECT_NE(scan["region"].get<std::string>().find("[heap]"), std::string::npos);
  EXPECT_TRUE(scan["errors"].empty()) << scan.dump();
  EXPECT_TRUE(child.responds());
}

// What kernel.io_uring_disabled (EPERM) or a kernel without io_uring (ENOSYS) does to the
// method, provoked for this process alone with seccomp rather than by changing the sysctl.
TEST(MemdumpCliTest, IoUringUnavailableExitsTwoWithIoUringSetupErrno) {
  const auto canary = MaskedCanary::random();
  CanaryChild child(canary, Placement::kHeap);
  for (const int err : {EPERM, ENOSYS}) {
    const auto run = run_memdump({"--pid", std::to_string(child.pid()), "--canary",
                                  to_hex(canary.unmask()), "--method", "io_uring"},
                                 [err] { fail_syscalls({SYS_io_uring_setup}, err); });
    EXPECT_EQ(run.exit.code, 2) << run.json.dump();
    EXPECT_EQ(run.json["found"], false);
    ASSERT_EQ(run.json["errors"].size(), 1u) << run.json.dump();
    EXPECT_EQ(run.json["errors"][0]["stage"], "io_uring_setup");
    EXPECT_EQ(run.json["errors"][0]["errno"], err);
    EXPECT_EQ(run.json["bytes_scanned"], 0);
  }
}

TEST(MemdumpCliTest, DeniedPtraceExitsTwoWithPtraceEperm) {
  const auto canary = MaskedCanary::random();
  CanaryChild child(canary, Placement::kHeap);
  const auto run = run_memdump({"--pid", std::to_string(child.pid()), "--canary",
                                to_hex(canary.unmask()), "--method", "ptrace"},
                               [] { deny_syscall_with_eperm(SYS_ptrace); });
  EXPECT_EQ(run.exit.code, 2) << run.json.dump();
  EXPECT_EQ(run.json["found"], false);
  ASSERT_EQ(run.json["errors"].size(), 1u);
  EXPECT_EQ(run.json["errors"][0]["stage"], "ptrace");
  EXPECT_EQ(run.json["errors"][0]["errno"], EPERM);
  EXPECT_EQ(run.json["bytes_scanned"], 0);
  EXPECT_TRUE(child.responds());
}

TEST(MemdumpCliTest, DeniedProcessVmReadvExitsTwoWithReadEperm) {
  const auto canary = MaskedCanary::random();
  CanaryChild child(canary, Placement::kHeap);
  const auto run = run_memdump({"--pid", std::to_string(child.pid()), "--canary",
                                to_hex(canary.unmask()), "--method", "process_vm_readv"},
                               [] { deny_syscall_with_eperm(SYS_process_vm_readv); });
  EXPECT_EQ(run.exit.code, 2) << run.json.dump();
  ASSERT_EQ(run.json["errors"].size(), 1u);
  EXPECT_EQ(run.json["errors"][0]["stage"], "read");
  EXPECT_EQ(run.json["errors"][0]["errno"], EPERM);
}
#endif

TEST(MemdumpCliTest, OtherUserIsDeniedAtOpenMaps) {
  ASSERT_EQ(::geteuid(), 0u) << "privileged test: needs root to drop to another uid";
  // The build tree may sit in a private directory (a checkout in root's 0700 home): the other
  // user runs a copy it can reach and execute.
  char dir_template[] = "/var/tmp/ab-memdump-other-user-XXXXXX";
  ASSERT_NE(::mkdtemp(dir_template), nullptr);
  const std::filesystem::path dir(dir_template);
  const std::filesystem::path tool = dir / "armorbench-memdump";
  std::filesystem::copy_file(ARMORBENCH_MEMDUMP_PATH, tool);
  ::chmod(dir.c_str(), 0755);
  ::chmod(tool.c_str(), 0755);
  struct RemoveDir {
    std::filesystem::path path;
    ~RemoveDir() { std::filesystem::remove_all(path); }
  } remove_dir{dir};
  const auto canary = MaskedCanary::random();
  CanaryChild child(canary, Placement::kHeap);
  for (const char* method : {"process_vm_readv", "proc_mem", "ptrace", "io_uring"}) {
    const auto run = run_memdump(
        {"--pid", std::to_string(child.pid()), "--canary", to_hex(canary.unmask()), "--method",
         method},
        [] {
          if (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0) {
            ::_exit(125);
          }
        },
        tool.string());
    EXPECT_EQ(run.exit.code, 2) << method << ": " << run.json.dump();
    ASSERT_FALSE(run.json["errors"].empty()) << method;
    const auto stage = run.json["errors"][0]["stage"].get<std::string>();
    const int err = run.json["errors"][0]["errno"];
    // The maps open fails first for the fd-based methods (io_uring's open runs the same kernel
    // permission check); ptrace fails at SEIZE.
    if (std::string(method) == "ptrace") {
      EXPECT_EQ(stage, "ptrace") << run.json.dump();
      EXPECT_EQ(err, EPERM);
    } else {
      EXPECT_EQ(stage, "open_maps") << run.json.dump();
      EXPECT_EQ(err, EACCES);
    }
    EXPECT_TRUE(child.responds());
  }
}

// A temporary file removed on every exit path.
class TempFile {
 public:
  explicit TempFile(const std::vector<std::uint8_t>& contents) {
    char name[] = "/tmp/armorbench-memdump-test-XXXXXX";
    UniqueFd fd(::mkstemp(name));
    if (!fd) throw std::runtime_error("mkstemp failed");
    path_ = name;
    if (::write(fd.get(), contents.data(), contents.size()) !=
        static_cast<ssize_t>(contents.size())) {
      throw std::runtime_error("short write");
    }
  }
  ~TempFile() { std::filesystem::remove(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(MemoryDumperFileTest, FindsCanarySpanningReadChunksInFile) {
  const auto canary = MaskedCanary::random().unmask();
  std::vector<std::uint8_t> contents(3 << 20, 0);
  const std::size_t offset = (1 << 20) - 7;  // 7 bytes in the first 1 MiB read, 25 in the next
  std::copy(canary.begin(), canary.end(), contents.begin() + offset);
  TempFile file(contents);
  const auto result = MemoryDumper().scan_file(file.path(), canary);
  ASSERT_TRUE(result.found);
  EXPECT_EQ(result.address, offset);
  EXPECT_EQ(result.bytes_scanned, 2u << 20);  // stops after the read that completed the match

  const auto run = run_memdump({"--file", file.path(), "--canary", to_hex(canary)});
  EXPECT_EQ(run.exit.code, 0);
  EXPECT_EQ(run.json["address"], hex_address(offset));
  const auto miss =
      run_memdump({"--file", file.path(), "--canary", to_hex(MaskedCanary::random().unmask())});
  EXPECT_EQ(miss.exit.code, 1);
  EXPECT_EQ(miss.json["bytes_scanned"], contents.size());
}

TEST(MemoryDumperFileTest, LocatesCanaryInElfCoreSegment) {
  // A minimal ELF64 core: header, one PT_LOAD for vaddr 0x7f0000000000 holding the canary.
  const auto canary = MaskedCanary::random().unmask();
  Elf64_Ehdr ehdr{};
  std::memcpy(ehdr.e_ident, ELFMAG, SELFMAG);
  ehdr.e_ident[EI_CLASS] = ELFCLASS64;
  ehdr.e_ident[EI_DATA] = ELFDATA2LSB;
  ehdr.e_ident[EI_VERSION] = EV_CURRENT;
  ehdr.e_type = ET_CORE;
  ehdr.e_machine = EM_X86_64;
  ehdr.e_version = EV_CURRENT;
  ehdr.e_phoff = sizeof ehdr;
  ehdr.e_ehsize = sizeof ehdr;
  ehdr.e_phentsize = sizeof(Elf64_Phdr);
  ehdr.e_phnum = 1;
  Elf64_Phdr load{};
  load.p_type = PT_LOAD;
  load.p_flags = PF_R | PF_W;
  load.p_offset = 4096;
  load.p_vaddr = 0x7f0000000000;
  load.p_filesz = load.p_memsz = 8192;
  std::vector<std::uint8_t> contents(4096 + 8192, 0);
  std::memcpy(contents.data(), &ehdr, sizeof ehdr);
  std::memcpy(contents.data() + sizeof ehdr, &load, sizeof load);
  std::copy(canary.begin(), canary.end(), contents.begin() + 4096 + 0x123);
  TempFile file(contents);
  const auto result = MemoryDumper().scan_file(file.path(), canary);
  ASSERT_TRUE(result.found);
  EXPECT_EQ(result.address, 4096u + 0x123);
  EXPECT_NE(result.region.find("canary at vaddr 0x7f0000000123"), std::string::npos)
      << result.region;
}

}  // namespace
}  // namespace armorbench::attacks
