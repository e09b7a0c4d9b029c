// The enforcer in the real kernel, against real processes in a real runc container (privileged,
// runs in CI as root). For each rule kind: the denied process is stopped and the event recorded,
// its allowed twin runs, and the same thing outside the scoped cgroup is untouched.
#include "armorbench/enforcer/Enforcer.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <thread>

#include "armorbench/attacks/BeaconListener.h"
#include "armorbench/base/CgroupStats.h"
#include "armorbench/base/Hex.h"
#include "armorbench/base/Subprocess.h"
#include "armorbench/harness/HostEnforcer.h"
#include "armorbench/harness/OciBundle.h"
#include "armorbench/harness/Workspace.h"

namespace armorbench::enforcer {
namespace {
namespace fs = std::filesystem;
using std::chrono::seconds;

const std::string kCanary = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

// A runc container running `sleep`, on the host root bound read-only; deleted on every path.
class Container {
 public:
  explicit Container(const std::string& name, std::vector<std::string> capabilities = {})
      : id_("ab-enforcer-test-" + name + "-" + random_hex(3)),
        dir_(fs::temp_directory_path() / ("armorbench-enforcer-test-" + id_)),
        rootfs_(dir_.path() / "rootfs") {
    fs::create_directories(dir_.path() / "tmp");
    fs::create_directories(dir_.path() / "run");
    BundleSpec bundle;
    bundle.container_id = id_;
    bundle.rootfs = rootfs_.path();
    bundle.args = {"/bin/sleep", "600"};
    bundle.scratch_tmp = dir_.path() / "tmp";
    bundle.scratch_run = dir_.path() / "run";
    bundle.cgroups_path = "/armorbench/" + id_;
    bundle.extra_capabilities = std::move(capabilities);
    write_bundle(dir_.path(), bundle);
    Subprocess run(
        Subprocess::Spec{{"runc", "run", "--detach", "--bundle", dir_.path().string(), id_},
                         Subprocess::Stdio::kNull,
                         Subprocess::Stdio::kNull,
                         {}});
    const auto status = run.wait_for(seconds(30));
    if (!status || !status->exited_ok()) throw std::runtime_error("runc run failed for " + id_);
    const CommandResult state = run_command({"runc", "state", id_}, seconds(10));
    pid_ = nlohmann::json::parse(state.out).at("pid").get<pid_t>();
    paths_ = CgroupPaths::of_process(pid_);
    if (!paths_ || !paths_->unified_id()) throw std::runtime_error("no cgroup v2 for " + id_);
  }
  ~Container() {
    run_command({"runc", "delete", "--force", id_}, seconds(30));
    // Cgroups a test made below the container's: runc removes only its own.
    if (paths_) remove_cgroup_tree(paths_->unified());
  }

  CommandResult exec(const std::vector<std::string>& argv) const {
    std::vector<std::string> full{"runc", "exec", id_};
    full.insert(full.end(), argv.begin(), argv.end());
    return run_command(full, seconds(60));
  }
  Scope scope() const {
    Scope scope{*paths_->unified_id(), paths_->unified(), true, false};
    set_view_of(scope, pid_);
    return scope;
  }
  const fs::path& cgroup_dir() const { return paths_->unified(); }
  const std::string& id() const { return id_; }
  fs::path run_dir() const { return dir_.path() / "run"; }  // the container's /run
  std::uint64_t cgroup_id() const { return *paths_->unified_id(); }
  pid_t pid() const { return pid_; }

 private:
  std::string id_;
  ScopedDirectory dir_;
  HostRootBind rootfs_;
  pid_t pid_ = -1;
  std::optional<CgroupPaths> paths_;
};

// An enforcer with a sink that keeps every event.
struct Running {
  explicit Running(const std::vector<Policy>& policies, CompileOptions options = {})
      : enforcer(compile(policies, options), EnforcerOptions{}) {
    enforcer.set_sink([this](const Event& e) { events.push_back(e.record().to_json()); });
  }
  std::vector<nlohmann::json> take() {
    enforcer.poll(0);
    return std::exchange(events, {});
  }
  Enforcer enforcer;
  std::vector<nlohmann::json> events;
};

Policy policy(const std::string& name) {
  Policy p;
  p.name = name;
  return p;
}

PathRule rule(const std::string& path, Action action) {
  PathRule r;
  r.path = path;
  r.action = action;
  return r;
}

// runc exec relays a killed process as exit 137 (128 + SIGKILL); a direct child shows the signal.
bool killed(const ExitStatus& status) {
  return status.signal == SIGKILL || status.code == 137;
}

// Runs `syscall_body` in a forked child and returns how the child ended.
ExitStatus in_child(const std::function<void()>& syscall_body) {
  const pid_t child = ::fork();
  if (child == 0) {
    syscall_body();
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  return ExitStatus::from_wait_status(status);
}

bool has_event(const std::vector<nlohmann::json>& events, const std::string& operation,
               const std::string& action, const std::string& resource_part) {
  for (const auto& e : events)
    if (e.value("operation", "") == operation && e.value("action", "") == action &&
        e.value("resource", "").find(resource_part) != std::string::npos)
      return true;
  return false;
}

// Python for the scripts below: child(step) runs step() in a forked child and returns its wait
// status (9 when the enforcer killed it).
constexpr const char* kPythonChild =
    "import ctypes, os, sys\n"
    "def child(step):\n"
    "  pid = os.fork()\n"
    "  if pid == 0:\n"
    "    try:\n"
    "      step(); os._exit(0)\n"
    "    except BaseException as e:\n"
    "      print(e, file=sys.stderr); os._exit(1)\n"
    "  return os.waitpid(pid, 0)[1]\n";

class EnforcerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "privileged test: needs root (BPF, runc, cgroups)";
  }
};

TEST_F(EnforcerTest, ExecRuleKillsTheDeniedBinaryOnlyInTheScopedCgroup) {
  Container box("exec");
  Policy p = policy("exec");
  p.process = {rule("/usr/bin/dash", Action::kBlock)};
  Running running({p});
  running.enforcer.scope(box.scope());

  const auto denied = box.exec({"/bin/sh", "-c", "echo ran"});
  EXPECT_TRUE(killed(denied.status)) << denied.status.describe();
  EXPECT_EQ(denied.out.find("ran"), std::string::npos) << "the shell printed before it was killed";
  const auto twin = box.exec({"/usr/bin/env", "true"});
  EXPECT_TRUE(twin.status.exited_ok()) << twin.status.describe() << twin.err;
  const auto outside = run_command({"/bin/sh", "-c", "echo ran"}, seconds(10));
  EXPECT_TRUE(outside.status.exited_ok());
  EXPECT_EQ(outside.out, "ran\n");

  const auto events = running.take();
  EXPECT_TRUE(has_event(events, "exec", "block", "/usr/bin/dash"));
  for (const auto& e : events) {
    if (e.value("action", "") != "block") continue;
    EXPECT_EQ(e["cgroup_id"], box.cgroup_id());
    EXPECT_EQ(e["enforcement"], "sigkill");
    EXPECT_EQ(e["policy"], "exec");
    EXPECT_EQ(e["backend"], to_string(running.enforcer.backend()));
  }
}

TEST_F(EnforcerTest, FileRuleStopsTheReadButNotOtherFilesOrOutsiders) {
  Container box("file");
  Policy p = policy("file");
  p.file_rules = {rule("/etc/shadow", Action::kBlock)};
  Running running({p});
  running.enforcer.scope(box.scope());

  const auto denied = box.exec({"/usr/bin/cat", "/etc/shadow"});
  EXPECT_TRUE(killed(denied.status)) << denied.status.describe();
  EXPECT_TRUE(denied.out.empty()) << "no byte of the file may come out";
  const auto twin = box.exec({"/usr/bin/cat", "/etc/hostname"});
  EXPECT_TRUE(twin.status.exited_ok()) << twin.err;
  const auto outside = run_command({"/usr/bin/cat", "/etc/shadow"}, seconds(10));
  EXPECT_TRUE(outside.status.exited_ok());
  EXPECT_TRUE(has_event(running.take(), "open", "block", "/etc/shadow"));
}

TEST_F(EnforcerTest, AddressRuleRefusesConnectWithEpermAndLetsTheTwinThrough) {
  Container box("net");
  attacks::BeaconListener denied_port("127.0.0.1"), allowed_port("127.0.0.1");
  Policy p = policy("net");
  AddressRule r;
  r.protocol = "tcp";
  r.cidr = "127.0.0.1/32";
  r.ports = {denied_port.port()};
  p.addresses = {r};
  Running running({p});
  running.enforcer.scope(box.scope());

  auto connect = [&](std::uint16_t port) {
    return box.exec({"/usr/bin/python3", "-c",
                     "import socket\ntry:\n socket.create_connection(('127.0.0.1', " +
                         std::to_string(port) +
                         "), timeout=5).sendall(b'hi')\n print('connected')\n"
                         "except PermissionError as e:\n print('EPERM', e.errno)"});
  };
  EXPECT_NE(connect(denied_port.port()).out.find("EPERM 1"), std::string::npos);
  EXPECT_NE(connect(allowed_port.port()).out.find("connected"), std::string::npos);
  EXPECT_TRUE(allowed_port.wait_for("hi", seconds(5)));
  EXPECT_TRUE(denied_port.connections().empty());
  // Outside the container the same connect goes through.
  const auto outside =
      run_command({"/usr/bin/python3", "-c",
                   "import socket; socket.create_connection(('127.0.0.1', " +
                       std::to_string(denied_port.port()) + ")).sendall(b'outside')"},
                  seconds(10));
  EXPECT_TRUE(outside.status.exited_ok()) << outside.err;
  EXPECT_TRUE(denied_port.wait_for("outside", seconds(5)));
  const auto events = running.take();
  EXPECT_TRUE(
      has_event(events, "connect", "block", "127.0.0.1:" + std::to_string(denied_port.port())));
  for (const auto& e : events) {
    if (e.value("operation", "") == "connect") {
      EXPECT_EQ(e["enforcement"], "eperm");
    }
  }
}

TEST_F(EnforcerTest, ProtocolRuleRefusesSocketCreation) {
  Container box("proto");
  Policy p = policy("proto");
  p.protocols = {ProtocolRule{"udp", Action::kBlock, {}, {}}};
  Running running({p});
  running.enforcer.scope(box.scope());
  const auto result = box.exec(
      {"/usr/bin/python3", "-c",
       "import socket\ntry:\n socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n print('udp')\n"
       "except PermissionError:\n print('udp EPERM')\nsocket.socket(socket.AF_INET, "
       "socket.SOCK_STREAM)\nprint('tcp ok')"});
  EXPECT_NE(result.out.find("udp EPERM"), std::string::npos) << result.out << result.err;
  EXPECT_NE(result.out.find("tcp ok"), std::string::npos) << result.out << result.err;
  EXPECT_TRUE(has_event(running.take(), "socket", "block", "udp"));
}

TEST_F(EnforcerTest, MemoryRuleStopsOutsideReadersOfTheProtectedProcessOnly) {
  Container box("memory");
  Policy p = policy("memory");
  p.memory = MemoryRule{Action::kBlock, {}, {}, {}};
  Running running({p});
  running.enforcer.scope(box.scope());
  const std::string memdump = ARMORBENCH_MEMDUMP;

  // The dumper opens /proc/<pid>/maps first, whatever its method: stopped there.
  for (const char* method : {"process_vm_readv", "proc_mem", "ptrace"}) {
    const auto dump = run_command({memdump, "--pid", std::to_string(box.pid()), "--canary", kCanary,
                                   "--method", method, "--json"},
                                  seconds(60));
    EXPECT_TRUE(killed(dump.status)) << method << ": " << dump.status.describe() << dump.out;
  }
  // The syscalls themselves, without opening anything first.
  const pid_t target = box.pid();
  const ExitStatus vm_read = in_child([target] {
    char buffer[64];
    iovec local{buffer, sizeof buffer}, remote{reinterpret_cast<void*>(0x400000), sizeof buffer};
    ::process_vm_readv(target, &local, 1, &remote, 1, 0);
  });
  EXPECT_TRUE(killed(vm_read)) << vm_read.describe();
  const ExitStatus attach =
      in_child([target] { ::ptrace(PTRACE_SEIZE, target, nullptr, nullptr); });
  EXPECT_TRUE(killed(attach)) << attach.describe();
  // The twin: the same tool on an unprotected process scans it to the end (not found, exit 1).
  Subprocess victim(Subprocess::Spec{
      {"/bin/sleep", "60"}, Subprocess::Stdio::kNull, Subprocess::Stdio::kNull, {}});
  const auto free_read = run_command({memdump, "--pid", std::to_string(victim.pid()), "--canary",
                                      kCanary, "--method", "proc_mem", "--json"},
                                     seconds(60));
  EXPECT_EQ(free_read.status.code, 1) << free_read.status.describe() << free_read.out;
  // Inside the container a process may read its own container's processes (no dump from outside).
  const auto inside = box.exec({"/usr/bin/cat", "/proc/1/maps"});
  EXPECT_TRUE(inside.status.exited_ok()) << inside.status.describe();

  const auto events = running.take();
  EXPECT_TRUE(has_event(events, "process_vm_readv", "block", ""));
  EXPECT_TRUE(has_event(events, "proc_mem", "block", "/proc/"));
  EXPECT_TRUE(has_event(events, "ptrace", "block", ""));
  for (const auto& e : events) EXPECT_EQ(e["target_cgroup_id"], box.cgroup_id());
}

TEST_F(EnforcerTest, AuditModeRecordsWithoutStopping) {
  Container box("audit");
  Policy p = policy("audit");
  p.process = {rule("/usr/bin/dash", Action::kBlock)};
  CompileOptions options;
  options.audit_only = true;
  Running running({p}, options);
  running.enforcer.scope(box.scope());
  const auto result = box.exec({"/bin/sh", "-c", "echo ran"});
  EXPECT_TRUE(result.status.exited_ok());
  EXPECT_EQ(result.out, "ran\n");
  EXPECT_TRUE(has_event(running.take(), "exec", "audit", "/usr/bin/dash"));
}

// The harness's host enforcer drains the ring buffer while the case runs (a workload flooding it
// loses fewer events): its event log holds a decision before anyone asked for a report.
TEST_F(EnforcerTest, TheHostEnforcerDrainsTheRingWhileTheCaseRuns) {
  Container box("drain");
  ScopedDirectory dir(fs::temp_directory_path() / ("armorbench-drain-test-" + random_hex(3)));
  std::ofstream(dir.path() / "no-shells.yaml")
      << "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorPolicy\nmetadata:\n"
         "  name: no-shells\nspec:\n  process:\n    matchPaths:\n      - path: /usr/bin/dash\n"
         "  action: Block\n";
  const fs::path log = dir.path() / "events.jsonl";
  HostEnforcer host(EnforcementPlan{EnforcerMode::kAudit, {dir.path() / "no-shells.yaml"},
                                    Backend::kAuto, DefaultPosture::kBlock});
  host.scope(box.cgroup_id(), box.scope().cgroup_dir, false, 0, log);
  EXPECT_TRUE(box.exec({"/bin/sh", "-c", "echo ran"}).status.exited_ok());
  std::string logged;
  for (int i = 0; i < 50 && logged.find("/usr/bin/dash") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::ifstream in(log);
    logged.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  EXPECT_NE(logged.find("/usr/bin/dash"), std::string::npos) << "nothing drained yet: " << logged;
  bool audited = false;
  for (const EventRecord& e : host.report_for(box.cgroup_id()).events)
    audited = audited || (e.action == EventAction::kAudit && e.resource == "/usr/bin/dash");
  EXPECT_TRUE(audited);
  host.unscope(box.cgroup_id());
}

TEST_F(EnforcerTest, ReplacingRulesSwapsTheWholeSetAtOnce) {
  Container box("swap");
  Policy first = policy("first");
  first.process = {rule("/usr/bin/dash", Action::kBlock)};
  Policy second = policy("second");
  second.process = {rule("/usr/bin/id", Action::kBlock)};
  CompileOptions options;
  Running running({first}, options);
  running.enforcer.scope(box.scope());
  EXPECT_TRUE(killed(box.exec({"/bin/sh", "-c", "true"}).status));
  EXPECT_TRUE(box.exec({"/usr/bin/id"}).status.exited_ok());

  options.generation = 2;
  running.enforcer.replace_rules(compile({second}, options));
  EXPECT_EQ(running.enforcer.generation(), 2u);
  EXPECT_TRUE(box.exec({"/bin/sh", "-c", "true"}).status.exited_ok());
  EXPECT_TRUE(killed(box.exec({"/usr/bin/id"}).status));
  const auto events = running.take();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0]["generation"], 1);
  EXPECT_EQ(events[0]["policy"], "first");
  EXPECT_EQ(events[1]["generation"], 2);
  EXPECT_EQ(events[1]["policy"], "second");
}

TEST_F(EnforcerTest, ExecWatchReportsEveryExecOfTheCgroup) {
  Container box("watch");
  Enforcer watch(compile({}, {}), EnforcerOptions{Backend::kAuto, true});
  std::vector<nlohmann::json> events;
  watch.set_sink([&](const Event& e) { events.push_back(e.record().to_json()); });
  Scope scope = box.scope();
  scope.watch_exec = true;
  scope.enforce = false;
  watch.scope(scope);
  box.exec({"/usr/bin/id"});
  run_command({"/usr/bin/id"}, seconds(10));  // outside: not reported
  watch.poll(0);
  int seen = 0;
  for (const auto& e : events) {
    EXPECT_EQ(e["action"], "observe");
    EXPECT_EQ(e["cgroup_id"], box.cgroup_id());
    if (e["resource"] == "/usr/bin/id") ++seen;
  }
  EXPECT_EQ(seen, 1);
}

TEST_F(EnforcerTest, CapabilityRulesNeedBpfLsmAndSaySo) {
  Policy p = policy("caps");
  p.capabilities = {CapabilityRule{"net_raw", 13, Action::kBlock, {}, {}}};
  std::string why;
  if (choose_backend(&why) == Backend::kBpfLsm) {
    EXPECT_NO_THROW(Enforcer(compile({p}, {}), EnforcerOptions{}));
  } else {
    try {
      Enforcer enforcer(compile({p}, {}), EnforcerOptions{});
      FAIL() << "capability rules loaded on the tracepoint backend";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kUnsupported);
      EXPECT_NE(std::string(e.what()).find("bpf-lsm"), std::string::npos);
    }
  }
}

// Sockets are judged by what they are: MPTCP is tcp, UDP-Lite is udp, a raw ICMP socket is raw
// (and icmp), whatever protocol number was asked for.
TEST_F(EnforcerTest, SocketsAreClassifiedByWhatTheyAreNotByTheNumberAsked) {
  Container box("classes", {"CAP_NET_RAW"});
  Policy p = policy("classes");
  p.protocols = {ProtocolRule{"tcp", Action::kBlock, {}, {}},
                 ProtocolRule{"udp", Action::kBlock, {}, {}},
                 ProtocolRule{"icmp", Action::kBlock, {}, {}}};
  Running running({p});
  running.enforcer.scope(box.scope());
  const auto result = box.exec(
      {"/usr/bin/python3", "-c",
       "import socket\n"
       "for name, kind, proto in [('mptcp', socket.SOCK_STREAM, 262),\n"
       "    ('udplite', socket.SOCK_DGRAM, 136), ('rawicmp', socket.SOCK_RAW, 1),\n"
       "    ('unix', None, None)]:\n"
       "  try:\n"
       "    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) if kind is None else "
       "socket.socket(socket.AF_INET, kind, proto)\n"
       "    print(name, 'created')\n"
       "  except OSError as e:\n"
       "    print(name, 'errno', e.errno)\n"});
  EXPECT_NE(result.out.find("mptcp errno 1"), std::string::npos) << result.out << result.err;
  EXPECT_NE(result.out.find("udplite errno 1"), std::string::npos) << result.out << result.err;
  EXPECT_NE(result.out.find("rawicmp errno 1"), std::string::npos) << result.out << result.err;
  EXPECT_NE(result.out.find("unix created"), std::string::npos) << result.out << result.err;
  const auto events = running.take();
  EXPECT_TRUE(has_event(events, "socket", "block", "socket tcp"));
  EXPECT_TRUE(has_event(events, "socket", "block", "socket udp"));
  // The raw ICMP socket is raw and icmp; only icmp is blocked here, so icmp decides.
  EXPECT_TRUE(has_event(events, "socket", "block", "socket icmp"));
}

// A process moved into a cgroup below its container's stays under the container's rules.
TEST_F(EnforcerTest, AProcessMovedBelowTheScopedCgroupStaysScoped) {
  Container box("nested");
  Policy p = policy("nested");
  p.file_rules = {rule("/etc/shadow", Action::kBlock)};
  p.protocols = {ProtocolRule{"udp", Action::kBlock, {}, {}}};
  Running running({p});
  running.enforcer.scope(box.scope());
  const fs::path below = box.cgroup_dir() / "escape";
  fs::create_directory(below);
  // The container's process waits until the host has moved it, then tries both rules.
  Subprocess waiter(Subprocess::Spec{
      {"runc", "exec", box.id(), "/usr/bin/python3", "-c",
       "import os, socket, time\n"
       "print(os.getpid(), flush=True)\n"
       "while '/escape' not in open('/proc/self/cgroup').read(): time.sleep(0.05)\n"
       "try:\n socket.socket(socket.AF_INET, socket.SOCK_DGRAM); print('udp created')\n"
       "except OSError as e: print('udp errno', e.errno)\n"
       "print(open('/etc/shadow').read()[:4], flush=True)\n"},
      Subprocess::Stdio::kCapture, Subprocess::Stdio::kCapture, {}});
  // The exec'd process is the one in the container's cgroup that is not its init.
  pid_t moved = 0;
  for (int i = 0; i < 100 && moved == 0; ++i) {
    std::ifstream procs(box.cgroup_dir() / "cgroup.procs");
    for (pid_t pid = 0; procs >> pid;)
      if (pid != box.pid()) moved = pid;
    if (moved == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_NE(moved, 0) << "the exec'd process never appeared in the container's cgroup";
  std::ofstream(below / "cgroup.procs") << moved << std::flush;
  const auto status = waiter.wait_for(seconds(30));
  ASSERT_TRUE(status);
  EXPECT_TRUE(killed(*status)) << status->describe();
  const auto events = running.take();
  EXPECT_TRUE(has_event(events, "socket", "block", "udp"));
  EXPECT_TRUE(has_event(events, "open", "block", "/etc/shadow"));
  for (const auto& e : events)  // charged to the container, not to the cgroup below it
    EXPECT_EQ(e.value("cgroup_id", std::uint64_t{0}), box.cgroup_id()) << e.dump();
}

// A process that leaves its container's view of the filesystem (a private mount namespace, a
// chroot) gets every path decision failed closed, even for paths no rule names; the same open in
// the container's own view goes through.
TEST_F(EnforcerTest, PathsSeenFromAnotherMountNamespaceOrRootFailClosed) {
  Container box("view");
  Policy p = policy("view");
  p.file_rules = {rule("/etc/shadow", Action::kBlock)};
  Running running({p});
  running.enforcer.scope(box.scope());
  const std::string script =
      std::string(kPythonChild) +
      "libc = ctypes.CDLL(None, use_errno=True)\n"
      "def same(): open('/etc/hostname').read()\n"
      "def private_ns():\n"
      "  assert libc.unshare(0x10000000 | 0x00020000) == 0, ctypes.get_errno()\n"
      "  open('/etc/hostname').read()\n"
      "def chrooted():\n"
      "  assert libc.unshare(0x10000000) == 0, ctypes.get_errno()\n"
      "  assert libc.chroot(b'/etc') == 0, ctypes.get_errno()\n"
      "  open('/hostname').read()\n"
      "for name, step in [('same', same), ('private_ns', private_ns), ('chroot', chrooted)]:\n"
      "  print(name, child(step))\n";
  const auto result = box.exec({"/usr/bin/python3", "-c", script});
  EXPECT_NE(result.out.find("same 0"), std::string::npos) << result.out << result.err;
  EXPECT_NE(result.out.find("private_ns 9"), std::string::npos) << result.out << result.err;
  EXPECT_NE(result.out.find("chroot 9"), std::string::npos) << result.out << result.err;
  const auto events = running.take();
  int foreign = 0;
  for (const auto& e : events)
    if (e.value("operation", "") == "open" && e.value("action", "") == "block" &&
        e.value("foreign_view", false))
      ++foreign;
  EXPECT_EQ(foreign, 2) << nlohmann::json(events).dump(1);
}

// Changes to protected objects, each through its own call, from a scoped process: every one is
// judged at the call's entry and the process killed before it returns; a read-only rule lets the
// reads through. On this backend the kernel completes the call all the same (nothing can refuse it
// from a tracepoint; bpf-lsm's path hooks can, see GuestVmEndToEnd): that is asserted too, so a
// change in the kernel's behaviour shows up here.
TEST_F(EnforcerTest, ChangesToProtectedObjectsAreJudgedAtTheCall) {
  Container box("changes");
  const fs::path secrets = box.run_dir() / "secrets";
  const fs::path read_only = box.run_dir() / "ro";
  fs::create_directories(secrets / "dir");
  fs::create_directories(read_only);
  for (const char* name : {"unlink", "unlinkat", "rel", "rename", "link", "truncate", "chown"})
    std::ofstream(secrets / name) << "s3cret";
  for (const char* name : {"chmod", "fchmod", "ftruncate", "fchown", "read"})
    std::ofstream(read_only / name) << "model";
  std::ofstream(box.run_dir() / "plain") << "x";
  Policy p = policy("changes");
  PathRule dir = rule("/run/secrets/", Action::kBlock);
  dir.is_directory = true;
  dir.recursive = true;
  PathRule ro = rule("/run/ro/", Action::kBlock);
  ro.is_directory = true;
  ro.recursive = true;
  ro.read_only = true;
  p.file_rules = {dir, ro};
  Running running({p});
  running.enforcer.scope(box.scope());
  const std::string script =
      std::string(kPythonChild) +
      "def at_dir():\n"
      "  os.unlink('secrets/unlinkat', dir_fd=os.open('/run', os.O_RDONLY | os.O_DIRECTORY))\n"
      "def in_cwd():\n"
      "  os.chdir('/run/secrets'); os.unlink('rel')\n"
      "def by_fd(name, call):\n"
      "  return lambda: call(os.open('/run/ro/' + name, os.O_RDONLY))\n"
      "def dotdot():\n"
      "  os.makedirs('/tmp/a', exist_ok=True); open('/tmp/b', 'w').close(); os.unlink('/tmp/a/../b')\n"
      "def plain():\n"
      "  open('/tmp/plain', 'w').close(); os.unlink('/tmp/plain')\n"
      "steps = [\n"
      "  ('unlink', lambda: os.unlink('/run/secrets/unlink')),\n"
      "  ('unlinkat', at_dir), ('relative', in_cwd),\n"
      "  ('rmdir', lambda: os.rmdir('/run/secrets/dir')),\n"
      "  ('rename', lambda: os.rename('/run/secrets/rename', '/run/renamed')),\n"
      "  ('rename_target', lambda: os.rename('/run/plain', '/run/secrets/new')),\n"
      "  ('link', lambda: os.link('/run/secrets/link', '/run/linked')),\n"
      "  ('truncate', lambda: os.truncate('/run/secrets/truncate', 0)),\n"
      "  ('chown', lambda: os.chown('/run/secrets/chown', 1, 1)),\n"
      "  ('chmod', lambda: os.chmod('/run/ro/chmod', 0o777)),\n"
      "  ('fchmod', by_fd('fchmod', lambda fd: os.fchmod(fd, 0o777))),\n"
      "  ('ftruncate', by_fd('ftruncate', lambda fd: os.ftruncate(fd, 0))),\n"
      "  ('fchown', by_fd('fchown', lambda fd: os.fchown(fd, 1, 1))),\n"
      "  ('read', lambda: open('/run/ro/read').read()),\n"
      "  ('dotdot', dotdot), ('plain', plain)]\n"
      "for name, step in steps:\n"
      "  print(name, child(step), flush=True)\n";
  const auto result = box.exec({"/usr/bin/python3", "-c", script});
  for (const char* step : {"unlink", "unlinkat", "relative", "rmdir", "rename", "rename_target",
                           "link", "truncate", "chown", "chmod", "fchmod", "ftruncate", "fchown",
                           "dotdot"})
    EXPECT_NE(result.out.find(std::string(step) + " 9\n"), std::string::npos)
        << step << " was not killed:\n" << result.out << result.err;
  EXPECT_NE(result.out.find("read 0\n"), std::string::npos) << result.out << result.err;
  EXPECT_NE(result.out.find("plain 0\n"), std::string::npos) << result.out << result.err;

  const auto events = running.take();
  const auto judged = [&](const std::string& operation, const std::string& change,
                          const std::string& resource) {
    for (const auto& e : events)
      if (e.value("operation", "") == operation && e.value("change", "") == change &&
          e.value("resource", "") == resource && e.value("action", "") == "block" &&
          e.value("enforcement", "") == "sigkill")
        return true;
    return false;
  };
  EXPECT_TRUE(judged("unlink", "unlink", "/run/secrets/unlink"));
  EXPECT_TRUE(judged("unlink", "unlink", "/run/secrets/unlinkat"));
  EXPECT_TRUE(judged("unlink", "unlink", "/run/secrets/rel"));
  EXPECT_TRUE(judged("unlink", "rmdir", "/run/secrets/dir"));
  EXPECT_TRUE(judged("rename", "rename", "/run/secrets/rename"));
  EXPECT_TRUE(judged("rename", "rename-target", "/run/secrets/new"));
  EXPECT_TRUE(judged("link", "link", "/run/secrets/link"));
  EXPECT_TRUE(judged("setattr", "truncate", "/run/secrets/truncate"));
  EXPECT_TRUE(judged("setattr", "chown", "/run/secrets/chown"));
  EXPECT_TRUE(judged("setattr", "chmod", "/run/ro/chmod"));
  EXPECT_TRUE(judged("setattr", "chmod", "/run/ro/fchmod"));
  EXPECT_TRUE(judged("setattr", "truncate", "/run/ro/ftruncate"));
  EXPECT_TRUE(judged("setattr", "chown", "/run/ro/fchown"));
  bool unresolved = false;
  for (const auto& e : events) {
    unresolved |= e.value("unresolved", false) && e.value("resource", "") == "/tmp/a/../b";
    EXPECT_NE(e.value("resource", ""), "/tmp/plain") << e.dump();
    EXPECT_NE(e.value("resource", ""), "/run/ro/read") << e.dump();
  }
  EXPECT_TRUE(unresolved) << nlohmann::json(events).dump(1);
  // Killed, not refused: the calls were made.
  EXPECT_FALSE(fs::exists(secrets / "unlink"));
  EXPECT_TRUE(fs::exists(box.run_dir() / "renamed"));
  EXPECT_EQ(fs::file_size(secrets / "truncate"), 0u);
}

// A path deeper than the walk resolves is decided as blocked, not on its tail.
TEST_F(EnforcerTest, APathTooDeepToResolveFailsClosed) {
  Container box("deep");
  Policy p = policy("deep");
  p.file_rules = {rule("/etc/shadow", Action::kBlock)};
  Running running({p});
  running.enforcer.scope(box.scope());
  const auto result = box.exec(
      {"/usr/bin/python3", "-c",
       "import os\n"
       "deep = '/tmp/' + '/'.join(['d'] * 40)\n"
       "os.makedirs(deep)\n"
       "open('/tmp/shallow', 'w').write('x')\n"
       "print('shallow', open('/tmp/shallow').read(), flush=True)\n"
       "open(deep + '/f', 'w').write('x')\n"
       "print('deep written', flush=True)\n"});
  EXPECT_NE(result.out.find("shallow x"), std::string::npos) << result.out << result.err;
  EXPECT_EQ(result.out.find("deep written"), std::string::npos) << result.out;
  EXPECT_TRUE(killed(result.status)) << result.status.describe();
  bool truncated = false;
  for (const auto& e : running.take())
    truncated |= e.value("operation", "") == "open" && e.value("action", "") == "block" &&
                 e.value("path_truncated", false);
  EXPECT_TRUE(truncated);
}

// A protected file keeps its protection under another name: renamed with its directory, or
// hard-linked, the open is decided on the name the rules know it by.
TEST_F(EnforcerTest, AProtectedFileRenamedOrLinkedIsStillProtected) {
  Container box("identity");
  fs::create_directories(box.run_dir() / "secrets" / "k");
  std::ofstream(box.run_dir() / "secrets" / "k" / "token") << "s3cret";
  std::ofstream(box.run_dir() / "other") << "fine";
  Policy p = policy("identity");
  PathRule dir = rule("/run/secrets/", Action::kBlock);
  dir.is_directory = true;
  dir.recursive = true;
  p.file_rules = {dir};
  Running running({p});
  running.enforcer.scope(box.scope());
  const auto run = [&](const std::string& code) {
    return box.exec({"/usr/bin/python3", "-c", code});
  };
  // Renamed and linked by the host (the container's own rename is not what is tested here).
  fs::create_hard_link(box.run_dir() / "secrets" / "k" / "token", box.run_dir() / "link");
  const auto linked = run("print(open('/run/link').read())");
  EXPECT_TRUE(killed(linked.status)) << linked.status.describe() << linked.out;
  fs::rename(box.run_dir() / "secrets", box.run_dir() / "moved");
  const auto moved = run("print(open('/run/moved/k/token').read())");
  EXPECT_TRUE(killed(moved.status)) << moved.status.describe() << moved.out;
  EXPECT_EQ(moved.out.find("s3cret"), std::string::npos);
  const auto other = run("print(open('/run/other').read())");
  EXPECT_TRUE(other.status.exited_ok()) << other.err;
  int by_identity = 0;
  for (const auto& e : running.take())
    if (e.value("operation", "") == "open" && e.value("action", "") == "block" &&
        e.value("identity", false))
      ++by_identity;
  EXPECT_EQ(by_identity, 2);
}

// A workload repeating a recorded operation in a loop cannot flood the ring: each rule sends at
// most AB_RATE_LIMIT events a second per CPU, and every decision is either sent or counted.
TEST_F(EnforcerTest, EventsPerRuleAreRateLimitedAndCounted) {
  Container box("rate");
  Policy p = policy("rate");
  p.file_rules = {rule("/etc/hostname", Action::kAudit)};
  Running running({p});
  running.enforcer.scope(box.scope());
  constexpr int kOpens = 30000;
  const auto result = box.exec(
      {"/usr/bin/python3", "-c",
       "import os\nfor _ in range(" + std::to_string(kOpens) +
           "):\n os.close(os.open('/etc/hostname', os.O_RDONLY))\nprint('done')"});
  ASSERT_NE(result.out.find("done"), std::string::npos) << result.err;
  std::size_t sent = 0;
  for (const auto& e : running.take())
    if (e.value("operation", "") == "open" && e.value("resource", "") == "/etc/hostname") ++sent;
  const EnforcerStats stats = running.enforcer.stats();
  EXPECT_GT(stats.rate_limited, 0u) << "sent " << sent;
  EXPECT_EQ(sent + stats.rate_limited + stats.dropped, static_cast<std::uint64_t>(kOpens));
  EXPECT_LT(sent, static_cast<std::size_t>(kOpens));
}

// A reader sharing the container's pid namespace (a pod's sidecar with shareProcessNamespace)
// names the server by its pid there (1), not by its host pid: still the protected process.
TEST_F(EnforcerTest, AReaderInThePodsPidNamespaceNamesTheServerByItsPidThere) {
  Container box("pidns");
  Policy p = policy("pidns");
  p.memory = MemoryRule{Action::kBlock, {}, {}, {}};
  Running running({p});
  running.enforcer.scope(box.scope());
  const std::string ns = "/proc/" + std::to_string(box.pid()) + "/ns/pid";
  const ExitStatus joined = in_child([&ns] {
    const int fd = ::open(ns.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || ::setns(fd, CLONE_NEWPID) != 0) ::_exit(3);
    const pid_t reader = ::fork();  // the first process in the namespace it joined
    if (reader == 0) {
      char buffer[64];
      iovec local{buffer, sizeof buffer}, remote{reinterpret_cast<void*>(0x400000), sizeof buffer};
      ::process_vm_readv(1, &local, 1, &remote, 1, 0);  // pid 1 there: the container's init
      ::_exit(0);
    }
    int status = 0;
    ::waitpid(reader, &status, 0);
    ::_exit(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL ? 9 : 0);
  });
  EXPECT_EQ(joined.code, 9) << "the reader was not stopped: " << joined.describe();
  bool named = false;
  for (const auto& e : running.take())
    named |= e.value("operation", "") == "process_vm_readv" && e.value("action", "") == "block" &&
             e.value("target_pid", 0) == box.pid();
  EXPECT_TRUE(named) << "the event names the server by its host pid";
}

}  // namespace
}  // namespace armorbench::enforcer
