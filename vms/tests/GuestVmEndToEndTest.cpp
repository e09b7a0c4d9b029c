// End to end on this host, as root: ONE micro-VM booted under TCG through qemu:///system and
// shared by every step (boots cost 5-10 s on 2 cores). The workload is plain python (no torch:
// importing it takes a minute under TCG): it keeps a random 32-byte marker in memory, tries to
// exec /usr/bin/id (which the enforcer, loaded in the guest with the bpf-lsm backend, refuses
// with EPERM) and serves HTTP/1.1 on a unix socket behind the agent's relay. The host then finds
// the marker in a libvirt core dump and in the QEMU process's memory. Measurements go to stdout
// as one "vms-measurements" JSON line.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>

#include "armorbench/attacks/MemoryDumper.h"
#include "armorbench/base/Hex.h"
#include "armorbench/vms.h"
#include "armorbench/workload/OipClient.h"

namespace armorbench::vms {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

const char* kWorkload = R"PY(
import errno, http.server, json, os, signal, socketserver, subprocess
# PID 1 of its own pid namespace (the agent confines it): TERM ends it through a handler only.
signal.signal(signal.SIGTERM, lambda *args: os._exit(0))
marker = os.urandom(32)  # lives in this process until it is stopped
with open('/run/armorbench/marker.hex', 'w') as f:
    f.write(marker.hex())
try:
    subprocess.run(['/usr/bin/id'], capture_output=True)
    exec_id = 'allowed'
except OSError as e:
    exec_id = errno.errorcode.get(e.errno, str(e.errno))

# Changes to protected objects, each refused before it happens (bpf-lsm path hooks).
def attempt(call):
    try:
        call()
        return 'done'
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
open('/run/armorbench/plain', 'w').close()
weights = os.open('/run/models/weights.bin', os.O_RDONLY)  # read-only rule: reads are fine
changes = {
    'unlink': attempt(lambda: os.unlink('/run/secrets/token')),
    'rmdir': attempt(lambda: os.rmdir('/run/secrets/sub')),  # refused before ENOTEMPTY
    'rename': attempt(lambda: os.rename('/run/secrets/token', '/run/armorbench/moved')),
    'rename_target': attempt(lambda: os.rename('/run/armorbench/plain', '/run/secrets/new')),
    'link': attempt(lambda: os.link('/run/secrets/token', '/run/armorbench/linked')),
    'link_target': attempt(lambda: os.link('/run/armorbench/plain', '/run/secrets/linked')),
    'truncate': attempt(lambda: os.truncate('/run/models/weights.bin', 0)),
    'chmod': attempt(lambda: os.chmod('/run/secrets/token', 0o644)),
    'fchmod': attempt(lambda: os.fchmod(weights, 0o666)),
    'chown': attempt(lambda: os.chown('/run/models/weights.bin', 1, 1)),
    'read': os.read(weights, 64).decode(),
    'plain': attempt(lambda: os.unlink('/run/armorbench/plain')),
}

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'  # keep-alive: the relay carries one persistent connection
    def log_message(self, *args):
        pass
    def do_GET(self):
        body = json.dumps({'path': self.path, 'pid': os.getpid()}).encode()
        self.send_response(200)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

path = '/run/armorbench/test-http.sock'
server = socketserver.UnixStreamServer(path, Handler)
print(json.dumps({'event': 'ready', 'exec_id': exec_id, 'changes': changes, 'pid': os.getpid(),
                  'socket': path}), flush=True)
server.serve_forever()
)PY";

const char* kHttpSocket = "/run/armorbench/test-http.sock";
const fs::path kRunDir = "/run/armorbench/vms-e2e";

std::vector<std::uint8_t> random_bytes(std::size_t n) {
  std::vector<std::uint8_t> bytes(n);
  EXPECT_EQ(::getrandom(bytes.data(), n, 0), static_cast<ssize_t>(n));
  return bytes;
}

double ms(milliseconds d) {
  return static_cast<double>(d.count());
}
double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

class GuestVmEndToEnd : public ::testing::Test {
 public:
  static void SetUpTestSuite() {
    image_ = ensure_guest_image(kDefaultGuestCacheDir, ARMORBENCH_DATA_DIR);
    measurements_["guest_image_rebuilt"] = image_.rebuilt;
    GuestVmConfig config;
    config.name = "armorbench-e2e-" + std::to_string(::getpid());
    config.image = image_;
    config.run_dir = kRunDir;
    // A build dir under /tmp is invisible in the guest (its /tmp is its own): stage what it runs.
    staging_ = std::make_unique<GuestStaging>(fs::path("/var/tmp") /
                                              ("abvms-e2e-" + std::to_string(::getpid())));
    const fs::path agent = ARMORBENCH_GUEST_AGENT;
    config.agent = staging_->add(agent, "armorbench-guest-agent");
    staging_->add(ARMORBENCH_ENFORCER, "armorbench-enforcer");  // the agent looks beside itself
    policy_ = staging_->add_named(fs::path(ARMORBENCH_VMS_TEST_DATA) / "deny-exec-id.toml");
    // Another enforcer build (e.g. one with a proposed fix) can be tried without editing this.
    if (const char* enforcer = std::getenv("ARMORBENCH_VMS_ENFORCER"))
      config.agent_args = {"--enforcer", enforcer};
    config.boot_timeout = seconds(120);  // TCG on a loaded 2-core host
    try {
      vm_ = std::make_unique<GuestVm>(config);
    } catch (const std::exception& e) {
      boot_error_ = e.what();
    }
  }

  // Stops the shared guest (once) and returns what the agent said.
  static const StopReply& stop_guest() {
    if (vm_ && !stop_reply_) {
      stop_reply_ = vm_->stop(seconds(60));
      measurements_["poweroff_ms"] = ms(stop_reply_->poweroff);
      vm_.reset();
    }
    static const StopReply none;
    return stop_reply_ ? *stop_reply_ : none;
  }

  static void TearDownTestSuite() {
    vm_.reset();  // teardown on every path: stop op, else virDomainDestroy
    staging_.reset();
    std::cout << "vms-measurements " << measurements_.dump() << std::endl;
  }

 protected:
  void SetUp() override { ASSERT_TRUE(vm_) << "the guest did not boot: " << boot_error_; }

  static inline GuestImage image_;
  static inline std::unique_ptr<GuestVm> vm_;
  static inline std::unique_ptr<GuestStaging> staging_;
  static inline fs::path policy_;
  static inline std::string boot_error_;
  static inline std::optional<StopReply> stop_reply_;
  static inline std::vector<std::uint8_t> marker_;
  static inline json measurements_ = json::object();
  static inline json changes_;  // what the workload's changes to protected objects came to
};

TEST_F(GuestVmEndToEnd, BootsAndTheAgentSaysHello) {
  const json& hello = vm_->hello();
  EXPECT_EQ(hello["event"], "hello");
  EXPECT_EQ(hello["protocol"], kAgentProtocolVersion);
  EXPECT_EQ(hello["pid"], 1) << "the agent is the guest's PID 1";
  EXPECT_TRUE(hello.value("kernel", "").starts_with("6.1.")) << hello;
  EXPECT_NE(hello.value("lsm", "").find("bpf"), std::string::npos) << "bpf LSM active in the guest";
  EXPECT_TRUE(hello.value("btf", false));
  EXPECT_TRUE(vm_->running());
  measurements_["create_ms"] = ms(vm_->create_latency());
  measurements_["boot_to_hello_ms"] = ms(vm_->boot_latency());
  measurements_["hello_uptime_s"] = hello["uptime_s"];
}

TEST_F(GuestVmEndToEnd, StartsTheEnforcerThenTheWorkload) {
  StartRequest request;
  request.workload.argv = {"/usr/bin/python3", "-c", kWorkload};
  request.workload.planted = {{"/run/secrets/token", "planted-secret\n", 0600},
                              {"/run/secrets/sub/key", "planted-key\n", 0600},
                              {"/run/models/weights.bin", "weights\n", 0644}};
  request.workload.cgroup = "workload";
  request.workload.http_socket = kHttpSocket;
  request.workload.limits = {.cpus = 1.0, .memory_bytes = 512ull << 20, .pids = 64};
  request.enforcer.mode = EnforcerMode::kBlock;
  request.enforcer.policies = {policy_.string()};
  request.enforcer.backend = Backend::kAuto;

  const auto start = Clock::now();
  const StartReply reply = vm_->start(request, seconds(120));
  ASSERT_TRUE(reply.ok) << reply.error.dump(2) << "\n" << vm_->console_log();
  measurements_["start_to_started_ms"] = ms(reply.elapsed);
  EXPECT_EQ(reply.started["cgroup"], "/sys/fs/cgroup/workload");
  ASSERT_FALSE(reply.enforcer_ready.is_null());
  EXPECT_EQ(reply.enforcer_ready["backend"], "bpf-lsm") << reply.enforcer_ready;
  EXPECT_NE(reply.enforcer_ready.dump().find("lsm/bprm_check_security"), std::string::npos)
      << reply.enforcer_ready;

  const auto line = vm_->wait_workload_line(seconds(120));
  ASSERT_TRUE(line) << "no line from the workload";
  ASSERT_EQ((*line)["event"], "workload") << line->dump() << "\n" << vm_->console_log();
  const json& ready = (*line)["line"];
  EXPECT_EQ(ready["event"], "ready");
  EXPECT_EQ(ready["exec_id"], "EPERM") << "exec of /usr/bin/id must fail with EPERM: " << ready;
  changes_ = ready["changes"];
  measurements_["start_to_workload_ready_ms"] = ms_since(start);
}

TEST_F(GuestVmEndToEnd, RelaysHttpOverTheVirtioPort) {
  // The harness's own OIP client on the relayed stream: one persistent HTTP/1.1 connection.
  OipClient client(UniqueFd(::fcntl(vm_->http_stream(), F_DUPFD_CLOEXEC, 0)), seconds(30));
  const auto first = Clock::now();
  const HttpResponse hello = client.get("/hello");
  measurements_["http_first_ms"] = ms_since(first);
  ASSERT_EQ(hello.status, 200) << hello.body;
  EXPECT_EQ(json::parse(hello.body)["path"], "/hello");
  std::vector<double> rtts;
  for (int i = 0; i < 20; ++i) {
    const auto start = Clock::now();
    const HttpResponse answer = client.get("/r" + std::to_string(i));
    ASSERT_EQ(answer.status, 200) << "request " << i << " on the persistent connection";
    rtts.push_back(ms_since(start));
  }
  std::sort(rtts.begin(), rtts.end());
  measurements_["http_rtt_ms"] = {{"n", rtts.size()},
                                  {"min", rtts.front()},
                                  {"median", rtts[rtts.size() / 2]},
                                  {"max", rtts.back()}};
}

TEST_F(GuestVmEndToEnd, EnforcerReportsTheRefusedExec) {
  const EnforcerEvents events = vm_->enforcer_events();
  EXPECT_TRUE(events.enforcer_running);
  EXPECT_EQ(events.report.dropped, 0u);
  const auto& all = events.report.events;
  const auto refused = std::find_if(all.begin(), all.end(), [](const enforcer::EventRecord& e) {
    return e.operation == Operation::kExec && e.resource == "/usr/bin/id";
  });
  json dump = json::array();
  for (const auto& e : all) dump.push_back(e.to_json());
  ASSERT_NE(refused, all.end()) << dump.dump(2);
  EXPECT_EQ(refused->action, enforcer::EventAction::kBlock);
  EXPECT_EQ(refused->backend, Backend::kBpfLsm);
  EXPECT_EQ(refused->enforcement, enforcer::Enforcement::kEperm);
  EXPECT_EQ(refused->policy, "deny-exec-id");
}

// Every change to a protected object is refused with EPERM before it happens, and recorded:
// unlink, rmdir, rename (either end), link (either end), truncate, chmod (by name and by
// descriptor), chown; a read-only rule lets reads through; the objects are as planted.
TEST_F(GuestVmEndToEnd, EnforcerRefusesChangesToProtectedObjects) {
  ASSERT_TRUE(changes_.is_object()) << "the workload did not report its changes";
  for (const char* change : {"unlink", "rmdir", "rename", "rename_target", "link", "link_target",
                             "truncate", "chmod", "fchmod", "chown"})
    EXPECT_EQ(changes_[change], "EPERM") << change << ": " << changes_;
  EXPECT_EQ(changes_["read"], "weights\n") << changes_;
  EXPECT_EQ(changes_["plain"], "done") << changes_;
  EXPECT_EQ(vm_->read_file("/run/models/weights.bin"), "weights\n");
  EXPECT_EQ(vm_->read_file("/run/armorbench/moved"), std::nullopt);

  const EnforcerEvents events = vm_->enforcer_events();
  json dump = json::array();
  for (const auto& e : events.report.events) dump.push_back(e.to_json());
  const auto refused = [&](Operation operation, const std::string& change,
                           const std::string& resource) {
    return std::any_of(events.report.events.begin(), events.report.events.end(),
                       [&](const enforcer::EventRecord& e) {
                         return e.operation == operation && e.change == change &&
                                e.resource == resource &&
                                e.action == enforcer::EventAction::kBlock &&
                                e.backend == Backend::kBpfLsm &&
                                e.enforcement == enforcer::Enforcement::kEperm;
                       });
  };
  EXPECT_TRUE(refused(Operation::kUnlink, "unlink", "/run/secrets/token")) << dump.dump(1);
  EXPECT_TRUE(refused(Operation::kUnlink, "rmdir", "/run/secrets/sub")) << dump.dump(1);
  EXPECT_TRUE(refused(Operation::kRename, "rename", "/run/secrets/token"));
  EXPECT_TRUE(refused(Operation::kRename, "rename-target", "/run/secrets/new"));
  EXPECT_TRUE(refused(Operation::kLink, "link", "/run/secrets/token"));
  EXPECT_TRUE(refused(Operation::kLink, "link-target", "/run/secrets/linked"));
  EXPECT_TRUE(refused(Operation::kSetattr, "truncate", "/run/models/weights.bin"));
  EXPECT_TRUE(refused(Operation::kSetattr, "chmod", "/run/secrets/token"));
  EXPECT_TRUE(refused(Operation::kSetattr, "chmod", "/run/models/weights.bin"));
  EXPECT_TRUE(refused(Operation::kSetattr, "chown", "/run/models/weights.bin"));
}

TEST_F(GuestVmEndToEnd, ReadsFilesInTheGuest) {
  EXPECT_EQ(vm_->read_file("/run/secrets/token"), "planted-secret\n");
  // The limits were written into the workload's cgroup before it started.
  EXPECT_EQ(vm_->read_file("/sys/fs/cgroup/workload/pids.max"), "64\n");
  EXPECT_EQ(vm_->read_file("/sys/fs/cgroup/workload/memory.max"), "536870912\n");
  EXPECT_EQ(vm_->read_file("/sys/fs/cgroup/workload/cpu.max"), "100000 100000\n");
  EXPECT_EQ(vm_->read_file("/run/armorbench/no-such-file"), std::nullopt);
  const auto hex = vm_->read_file("/run/armorbench/marker.hex");
  ASSERT_TRUE(hex);
  marker_ = from_hex(*hex);
  EXPECT_EQ(marker_.size(), 32u);
}

TEST_F(GuestVmEndToEnd, CoreDumpHoldsTheWorkloadsMarker) {
  ASSERT_EQ(marker_.size(), 32u);
  const fs::path path = kRunDir / "guest-memory.core";
  const CoreDump dump = vm_->core_dump_memory(path);
  measurements_["core_dump_ms"] = ms(dump.elapsed);
  measurements_["core_dump_bytes"] = dump.bytes;
  EXPECT_GE(dump.bytes, 1024ull << 20);
  const attacks::MemoryDumper dumper;
  const attacks::ScanResult found = dumper.scan_file(path, marker_);
  EXPECT_TRUE(found.found) << found.to_json().dump(2);
  measurements_["core_scan_ms"] = found.elapsed_ms;
  // Negative control: 32 random bytes that never were in the guest.
  const attacks::ScanResult control = dumper.scan_file(path, random_bytes(32));
  EXPECT_FALSE(control.found) << control.to_json().dump(2);
  measurements_["core_full_scan_ms"] = control.elapsed_ms;  // the whole file, nothing found
  fs::remove(path);
  EXPECT_TRUE(vm_->running()) << "libvirt resumes the guest after a memory-only dump";
}

TEST_F(GuestVmEndToEnd, QemuProcessMemoryHoldsTheMarker) {
  ASSERT_EQ(marker_.size(), 32u);
  const auto pid = vm_->qemu_pid();
  ASSERT_TRUE(pid);
  const attacks::ScanResult found =
      attacks::MemoryDumper().scan(*pid, marker_, attacks::ReadMethod::kProcessVmReadv);
  EXPECT_TRUE(found.found) << found.to_json().dump(2);
  measurements_["qemu_scan_ms"] = found.elapsed_ms;
  measurements_["qemu_scan_bytes"] = found.bytes_scanned;
  // Negative control: a full scan of QEMU's memory does not find bytes the guest never had.
  const attacks::ScanResult control =
      attacks::MemoryDumper().scan(*pid, random_bytes(32), attacks::ReadMethod::kProcessVmReadv);
  EXPECT_FALSE(control.found) << control.to_json().dump(2);
  EXPECT_FALSE(control.failed) << control.to_json().dump(2);
  measurements_["qemu_full_scan_ms"] = control.elapsed_ms;
  measurements_["qemu_full_scan_bytes"] = control.bytes_scanned;
}

TEST_F(GuestVmEndToEnd, StopsTheWorkloadAndPowersOff) {
  const std::string name = vm_->name();
  const StopReply& reply = stop_guest();
  EXPECT_TRUE(reply.powered_off) << "the guest did not power itself off";
  EXPECT_FALSE(reply.workload_exit.is_null());
  // SIGTERM from stop, taken by the workload's handler (not the SIGKILL after the grace period).
  EXPECT_EQ(reply.workload_exit["code"], 0) << reply.workload_exit;
  EXPECT_FALSE(reply.enforcer_exit.is_null());
  ASSERT_TRUE(reply.cgroup_stats.has_value());
  EXPECT_GT(reply.cgroup_stats->memory_peak_bytes, 1ull << 20) << reply.cgroup_stats->to_json();
  EXPECT_GT(reply.cgroup_stats->cpu_usage_us, 0ull) << reply.cgroup_stats->to_json();
  measurements_["workload_cgroup_stats"] = reply.cgroup_stats->to_json();
  LibvirtConnection connection("qemu:///system");
  EXPECT_EQ(connection.domain_state(name), std::nullopt);
}

// Declared last: runs after the suite above has torn its guest down.
TEST(GuestVmTeardown, NoDomainRemains) {
  LibvirtConnection connection("qemu:///system");
  for (const std::string& name : connection.domain_names())
    EXPECT_FALSE(name.starts_with("armorbench-e2e-")) << "left behind: " << name;
}

}  // namespace
}  // namespace armorbench::vms
