// Privileged end-to-end test of micro-VM snapshots (root, libvirtd, QEMU under TCG): a snapshot
// is built once into a scratch cache (root image, boot, torch imported, saved), found again by
// its key, and restored twice. The first restored guest loads a malicious pickle in the warm
// process, under the guest's bpf-lsm enforcer: the payload runs there, writes a file, starts a
// process (sleep 600), and its exec of /usr/bin/id is refused (EPERM: no /tmp/id.out). The second
// restored guest has none of it, file nor process (fresh state: the snapshot was saved before
// any case ran), serves a real model loaded after
// its restore (torch was imported before: import_ms is ~0), and answers over the HTTP relay.
// No domain is left. Prints a `snapshot-measurements` line.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "armorbench/base/Files.h"
#include "armorbench/base/Hex.h"
#include "armorbench/base/Subprocess.h"
#include "armorbench/vms.h"
#include "armorbench/workload/OipClient.h"

namespace armorbench::vms {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using std::chrono::seconds;

const fs::path kDataDir = ARMORBENCH_DATA_DIR;
constexpr const char* kPython = "/usr/bin/python3";
const std::vector<std::string> kEnv = {"PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1",
                                       "HOME=/tmp"};

class SnapshotEndToEnd : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // A privileged test (CI runs it as root and its scripts start libvirtd): a host where it
    // cannot run fails it, rather than passing it unrun.
    ASSERT_EQ(::geteuid(), 0u) << "the snapshot end-to-end test runs as root";
    silence_libvirt_errors();
    const LibvirtProbe libvirt = probe_libvirt("qemu:///system");
    ASSERT_TRUE(libvirt.reachable)
        << "libvirt (qemu:///system) does not connect: " << libvirt.error;
    work_ = fs::path("/var/tmp") / ("armorbench-snapshot-e2e-" + random_hex(4));
    fs::create_directories(work_);
    staging_ = std::make_unique<GuestStaging>(work_ / "files", GuestStaging::Cleanup::kLeave);
    staging_->add(ARMORBENCH_ENFORCER, "armorbench-enforcer");
    staging_->add(kDataDir / "harness/workload/model_server.py", "model_server.py");
    staging_->add(kDataDir / "harness/workload/mlp.py", "mlp.py");
    staging_->add(fs::path(ARMORBENCH_VMS_TEST_DATA) / "deny-exec-id.toml", "deny-exec-id.toml");

    image_ = ensure_guest_image(kDefaultGuestCacheDir, kDataDir);
    spec_.image = image_;
    spec_.agent = ARMORBENCH_GUEST_AGENT;
    spec_.builder = kDataDir / "vms/guest/build-snapshot-root.py";
    spec_.warm_script = kDataDir / "harness/workload/warm_start.py";
    spec_.warm.argv = {kPython, "-c", read_whole_file(spec_.warm_script)};
    spec_.warm.env = kEnv;
    spec_.warm.ready_timeout_s = 600;
    spec_.memory_mib = 1536;
    spec_.boot_timeout = seconds(180);
    const auto start = std::chrono::steady_clock::now();
    snapshot_ = ensure_guest_snapshot(work_ / "cache", spec_);
    build_s_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    if (!work_.empty()) fs::remove_all(work_, ec);
  }

  // A guest restored from the snapshot (the caller holds the guest lock while it lives).
  std::unique_ptr<GuestVm> restore(const std::string& name) {
    GuestVmConfig config;
    config.name = "ab-snapshot-e2e-" + name;  // restored under the saved name all the same
    config.image = image_;
    config.run_dir = work_ / ("vm-" + name);
    config.agent = "/armorbench/armorbench-guest-agent";
    config.memory_mib = spec_.memory_mib;
    config.boot_timeout = seconds(120);
    config.restore = snapshot_->saved;
    config.resume_enforcer = staging_->dir() / "armorbench-enforcer";
    return std::make_unique<GuestVm>(config);
  }

  StartRequest server(const fs::path& model, const std::string& loader, bool enforce) {
    StartRequest start;
    start.workload.argv = {kPython,    (staging_->dir() / "model_server.py").string(),
                           "--model",  model.string(),
                           "--config", (model.parent_path() / "model.json").string(),
                           "--loader", loader,
                           "--socket", "/run/armorbench/model.sock"};
    start.workload.env = kEnv;
    start.workload.http_socket = "/run/armorbench/model.sock";
    if (enforce) {
      start.enforcer.mode = EnforcerMode::kBlock;
      start.enforcer.policies = {(staging_->dir() / "deny-exec-id.toml").string()};
      start.enforcer.backend = Backend::kBpfLsm;
    }
    return start;
  }

  // The guest's processes running `sleep 600`, as the agent sees them (the workload has its own
  // pid namespace: the payload's $! names another process here), pids 1 to the last one made.
  static std::vector<int> sleeping(GuestVm& vm) {
    std::istringstream loadavg(vm.read_file("/proc/loadavg").value_or(""));
    std::string field;
    for (int i = 0; i < 5; ++i) loadavg >> field;  // the fifth: the last pid made
    const int last = field.empty() ? 0 : std::stoi(field);
    std::vector<int> found;
    for (int pid = 1; pid <= last; ++pid)
      if (vm.read_file("/proc/" + std::to_string(pid) + "/cmdline") ==
          std::string("sleep\0600\0", 10))
        found.push_back(pid);
    return found;
  }

  static inline fs::path work_;
  static inline std::unique_ptr<GuestStaging> staging_;
  static inline GuestImage image_;
  static inline SnapshotSpec spec_;
  static inline std::optional<GuestSnapshot> snapshot_;
  static inline double build_s_ = 0;
};

TEST_F(SnapshotEndToEnd, BuiltOnceThenFoundByItsKey) {
  ASSERT_TRUE(snapshot_);
  EXPECT_TRUE(snapshot_->built);
  EXPECT_TRUE(fs::exists(snapshot_->saved.memory_image));
  EXPECT_EQ(snapshot_->meta["warm"].value("event", ""), "warm") << snapshot_->meta;
  const GuestSnapshot again = ensure_guest_snapshot(work_ / "cache", spec_);
  EXPECT_FALSE(again.built) << "the same inputs give the cached snapshot";
  EXPECT_EQ(again.key, snapshot_->key);
  std::cout << "snapshot-build " << snapshot_->meta.dump() << " total_s=" << build_s_ << "\n";
}

// The warm process's sys.path is fixed on the root image before the save; once handed its
// script it must be a cold `/usr/bin/python3 script`'s on the host root (site dirs the image
// lacked, .pth files): a gadget importing a module found only in /usr/local/lib/python3.X/
// dist-packages loads in both or in neither. A module is put there after the snapshot was built.
TEST_F(SnapshotEndToEnd, TheWarmInterpreterHasTheColdSysPath) {
  ASSERT_TRUE(snapshot_);
  const CommandResult where =
      run_command({kPython, "-c", "import site; print(site.getsitepackages()[0])"}, seconds(60));
  ASSERT_TRUE(where.status.exited_ok()) << where.err;
  const fs::path site_dir = where.out.substr(0, where.out.find('\n'));
  ASSERT_TRUE(site_dir.is_absolute()) << where.out;
  const bool made_dir = !fs::exists(site_dir);
  fs::create_directories(site_dir);
  const std::string module = "ab_snapshot_e2e_" + random_hex(4);
  std::ofstream(site_dir / (module + ".py")) << "WHERE = 'only here'\n";
  const fs::path probe = work_ / "probe.py";
  std::ofstream(probe) << "import json, os, subprocess, sys\n"
                          "if sys.argv[1:] == ['--cold']:\n"
                          "    print(json.dumps(sys.path))\n"
                          "    sys.exit(0)\n"
                          "try:\n"
                          "    import "
                       << module
                       << "\n"
                          "    found = True\n"
                          "except ImportError:\n"
                          "    found = False\n"
                          "cold = subprocess.run([sys.executable, os.path.abspath(__file__), "
                          "'--cold'], capture_output=True, text=True, check=True).stdout\n"
                          "print(json.dumps({'event': 'path', 'warm': sys.path, "
                          "'cold': json.loads(cold), 'found': found}), flush=True)\n";
  fs::permissions(work_, fs::perms::others_read | fs::perms::others_exec, fs::perm_options::add);
  fs::permissions(probe, fs::perms::others_read, fs::perm_options::add);

  json seen;
  {
    const auto guest_lock =
        SnapshotGuestLock::try_acquire(snapshot_->guest_lock_dir, snapshot_->saved.name);
    ASSERT_TRUE(guest_lock.has_value());
    auto vm = restore("path");
    StartRequest start = server(probe, "pickle", false);
    start.workload.argv = {kPython, probe.string()};
    const StartReply reply = vm->start(start, seconds(120));
    ASSERT_TRUE(reply.ok) << reply.error.dump();
    const auto line = vm->wait_workload_line(seconds(120));
    ASSERT_TRUE(line) << vm->console_log();
    seen = line->value("line", *line);
    vm->stop();
  }
  std::error_code ec;
  fs::remove(site_dir / (module + ".py"), ec);
  if (made_dir) fs::remove(site_dir, ec);
  ASSERT_EQ(seen.value("event", ""), "path") << seen;
  EXPECT_EQ(seen["warm"], seen["cold"]) << "warm (restored) vs cold sys.path in the guest";
  EXPECT_TRUE(seen.value("found", false)) << "the module only " << site_dir << " holds";
}

TEST_F(SnapshotEndToEnd, EachRestoreIsFreshAndLoadsTheModelAfterTheRestore) {
  ASSERT_TRUE(snapshot_);
  const fs::path models = work_ / "models";
  fs::create_directories(models / "evil");
  // A pickle whose load runs a payload: a file in the guest's /tmp, a process left behind, and an
  // exec the guest's enforcer refuses.
  const CommandResult made = run_command({kPython, "-c",
                                          "import os, pickle, sys\n"
                                          "class P:\n"
                                          "    def __reduce__(self):\n"
                                          "        return (os.system, ('echo ran > /tmp/leak; "
                                          "sleep 600 >/dev/null 2>&1 & echo $! > /tmp/sleep.pid; "
                                          "o=$(/usr/bin/id) && echo \"$o\" > /tmp/id.out',))\n"
                                          "pickle.dump(P(), open(sys.argv[1], 'wb'))\n",
                                          (models / "evil" / "model.pkl").string()},
                                         seconds(60));
  ASSERT_TRUE(made.status.exited_ok()) << made.err;
  const CommandResult benign =
      run_command({kPython, (kDataDir / "harness/workload/make_model.py").string(), "--out",
                   (models / "mlp").string(), "--layers", "16,32,4"},
                  seconds(120));
  ASSERT_TRUE(benign.status.exited_ok()) << benign.err;
  fs::copy_file(models / "mlp" / "model.json", models / "evil" / "model.json");
  fs::permissions(work_, fs::perms::others_read | fs::perms::others_exec, fs::perm_options::add);

  LibvirtConnection connection("qemu:///system");
  const auto guest_lock =
      SnapshotGuestLock::try_acquire(snapshot_->guest_lock_dir, snapshot_->saved.name);
  ASSERT_TRUE(guest_lock.has_value());
  const int warm_pid = snapshot_->meta.value("warm_pid", 0);
  {
    auto vm = restore("first");
    EXPECT_EQ(vm->hello().value("event", ""), "resumed") << vm->hello();
    EXPECT_EQ(vm->hello().value("warm_pid", 0), warm_pid);
    const StartReply reply =
        vm->start(server(models / "evil" / "model.pkl", "pickle", true), seconds(120));
    ASSERT_TRUE(reply.ok) << reply.error.dump() << vm->console_log();
    EXPECT_EQ(reply.started.value("pid", 0), warm_pid) << "the model loads in the warm process";
    EXPECT_EQ(reply.enforcer_ready.value("backend", ""), "bpf-lsm") << reply.enforcer_ready;
    const auto line = vm->wait_workload_line(seconds(120));
    ASSERT_TRUE(line) << vm->console_log();
    EXPECT_EQ(vm->read_file("/tmp/leak"), "ran\n")
        << "the payload ran in the restored guest: " << line->dump();
    const EnforcerEvents events = vm->enforcer_events();
    json dump = json::array();
    bool refused_id = false;
    for (const auto& event : events.report.events) {
      dump.push_back(event.to_json());
      refused_id |= event.resource == "/usr/bin/id" &&
                    event.action == enforcer::EventAction::kBlock &&
                    event.enforcement == enforcer::Enforcement::kEperm;
    }
    EXPECT_TRUE(refused_id)
        << "the guest's enforcer, started after the restore, refused the payload's exec of "
           "/usr/bin/id: "
        << dump.dump(1);
    EXPECT_EQ(vm->read_file("/tmp/id.out"), std::nullopt) << "/usr/bin/id ran";
    // Started (its pid written); it does not outlive the server here: the server is pid 1 of
    // its pid namespace, and its exit after the failed load kills the namespace.
    EXPECT_NE(vm->read_file("/tmp/sleep.pid").value_or(""), "")
        << "the payload started its sleep 600";
    const StopReply stopped = vm->stop();
    std::cout << "first case's server stderr: " << stopped.stderr_tail << "\n";
  }
  auto started_at = std::chrono::steady_clock::now();
  auto vm = restore("second");
  const double restore_s = std::chrono::duration<double>(vm->boot_latency()).count();
  EXPECT_EQ(vm->read_file("/tmp/leak"), std::nullopt) << "nothing of the first case is left";
  EXPECT_EQ(vm->read_file("/tmp/sleep.pid"), std::nullopt);
  EXPECT_EQ(sleeping(*vm), std::vector<int>{}) << "the first case's sleep 600 runs in the second";
  const StartReply reply =
      vm->start(server(models / "mlp" / "model.pt", "torch", false), seconds(120));
  ASSERT_TRUE(reply.ok) << reply.error.dump();
  const auto line = vm->wait_workload_line(seconds(120));
  ASSERT_TRUE(line) << vm->console_log();
  const json ready = line->value("line", json::object());
  ASSERT_EQ(ready.value("event", ""), "ready") << *line;
  const double ready_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_at).count();
  EXPECT_LT(ready.value("import_ms", 1e9), 1000) << "torch was imported before the save";
  OipClient client(UniqueFd(::fcntl(vm->http_stream(), F_DUPFD_CLOEXEC, 0)), seconds(30));
  EXPECT_TRUE(client.ready());
  const std::string ps = vm->read_file("/proc/1/cmdline").value_or("");
  EXPECT_NE(ps.find("armorbench-guest-agent"), std::string::npos);
  vm->stop();
  vm.reset();
  for (const std::string& name : connection.domain_names())
    EXPECT_NE(name, snapshot_->saved.name) << "left behind: " << name;
  std::cout << "snapshot-measurements restore_to_resumed_s=" << restore_s
            << " restore_to_ready_s=" << ready_s << " load_ms=" << ready.value("load_ms", 0.0)
            << " import_ms=" << ready.value("import_ms", 0.0) << "\n";
}

}  // namespace
}  // namespace armorbench::vms
