// The VM targets: `kata` (a micro-VM per case: Debian's kernel, a busybox initramfs, the host
// root shared read-only over 9p like Kata shares a container rootfs, and the guest agent) and
// `cvm` (the same guest with <launchSecurity>, run only where libvirt offers it). The enforcer
// runs inside the guest, where its bpf-lsm backend loads; the harness reaches the model server
// over a virtio-serial port with the same OIP client as on runc.
#include "armorbench/harness/VmTarget.h"

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <map>

#include "armorbench/base/Error.h"
#include "armorbench/base/Files.h"
#include "armorbench/base/Interrupt.h"
#include "armorbench/base/Subprocess.h"
#include "armorbench/vms.h"

namespace armorbench {
namespace fs = std::filesystem;
using nlohmann::json;
using std::chrono::milliseconds;

namespace {

constexpr const char* kServerSocket = "/run/armorbench/model.sock";
constexpr const char* kPython = "/usr/bin/python3";
// The model server's environment; a snapshot's warm workload is started with the same one.
const std::vector<std::string> kServerEnv = {"PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1",
                                             "HOME=/tmp"};
// QEMU user networking: the guest reaches the host's loopback at 10.0.2.2.
constexpr const char* kGuestHostAddress = "10.0.2.2";

milliseconds since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start);
}

vms::LaunchSecurity launch_security_of(const TargetSpec& spec) {
  if (spec.kind != TargetKind::kCvm) return vms::LaunchSecurity::kNone;
  if (spec.vm.launch_security == "sev") return vms::LaunchSecurity::kSev;
  if (spec.vm.launch_security == "tdx") return vms::LaunchSecurity::kTdx;
  return vms::LaunchSecurity::kSevSnp;
}

// What the guest reads from the host root, copied into the run's work dir (under /var/tmp): the
// guest has its own /tmp, so a checkout or build directory under the host's /tmp would be
// invisible to it. The agent finds the enforcer daemon beside itself.
class GuestFiles {
 public:
  GuestFiles(const fs::path& dir, const TargetContext& context)
      : staging_(dir, vms::GuestStaging::Cleanup::kLeave) {  // the work dir's owner removes it
    for (const char* binary : {"armorbench-guest-agent", "armorbench-enforcer"})
      staging_.add(context.bin_dir / binary, binary);
    for (const char* script : {"model_server.py", "mlp.py"})  // the server imports mlp.py
      staging_.add(context.data_dir / "harness/workload" / script, script);
  }
  fs::path agent() const { return staging_.dir() / "armorbench-guest-agent"; }
  fs::path enforcer() const { return staging_.dir() / "armorbench-enforcer"; }
  fs::path server() const { return staging_.dir() / "model_server.py"; }
  // The policy as the guest sees it (copied on first use, keeping its file name).
  fs::path policy(const fs::path& host_policy) { return staging_.add_named(host_policy); }

 private:
  vms::GuestStaging staging_;
};

class VmSandbox final : public Sandbox {
 public:
  VmSandbox(const TargetSpec& spec, const TargetContext& context, const vms::GuestImage& image,
            vms::Accel accel, GuestFiles& files, const vms::GuestSnapshot* snapshot,
            const std::string& cold_reason, const WorkloadSpec& workload,
            const EnforcementPlan& plan, bool watch_exec)
      : spec_(spec), context_(context), ready_timeout_(workload.ready_timeout) {
    vms::GuestVmConfig config;
    config.name = "ab-" + context.run_id + "-" + workload.id;
    config.image = image;
    config.run_dir = context.work_dir / ("vm-" + workload.id);
    config.agent = files.agent();
    config.memory_mib = static_cast<unsigned>(spec.vm.memory_mib);
    config.vcpus = static_cast<unsigned>(spec.vm.vcpus);
    config.accel = accel;
    config.launch_security = launch_security_of(spec);
    config.boot_timeout = spec.vm.boot_timeout;
    info_.runtime = "qemu-" + vms::to_string(accel) + " (" + image.kernel_version + " guest)";
    // A snapshot restores when it can; whatever stops it (its guest running for another process:
    // one restored guest per saved UUID; a restore or resume that fails) boots this case cold and
    // says why in its evidence, never an error of the case.
    std::string cold = cold_reason;
    if (snapshot) {
      guest_lock_ =
          vms::SnapshotGuestLock::try_acquire(snapshot->guest_lock_dir, snapshot->saved.name);
      if (!guest_lock_)
        cold = "the snapshot's guest " + snapshot->saved.name +
               " runs for another case or process (one restored guest per snapshot at a time)";
    }
    if (guest_lock_) {
      vms::GuestVmConfig restored = config;
      restored.restore = snapshot->saved;
      restored.resume_enforcer = files.enforcer();
      try {
        vm_.emplace(restored);
        info_.runtime += ", restored from snapshot " + snapshot->key.substr(0, 12);
      } catch (const Error& e) {
        vm_.reset();
        guest_lock_.reset();
        cold = "restoring snapshot " + snapshot->key.substr(0, 12) +
               " failed: " + output_tail(e.what(), 600);
      }
    }
    if (!vm_) {
      if (!cold.empty()) {
        info_.runtime += ", cold boot: " + output_tail(cold, 200);
        info_.evidence.push_back(
            {"target",
             "cold boot instead of a VM snapshot restore: " + output_tail(cold, 300),
             {{"snapshot", snapshot ? json(snapshot->key) : json()}, {"reason", cold}}});
      }
      vm_.emplace(config);
    }

    if (vm_->restored()) {
      timings_["restore_ms"] = vm_->restore_latency().count();
      timings_["resume_ms"] = vm_->resume_latency().count();
    } else {
      timings_["domain_create_ms"] = vm_->create_latency().count();
    }
    timings_["boot_ms"] = vm_->boot_latency().count();

    // The guest sees the host root read-only: the model, the server and the policies are read
    // at their host paths; planted files land in the guest's own /tmp, /run and /dev.
    vms::StartRequest start;
    start.workload.argv = {kPython,    files.server().string(),
                           "--model",  (workload.model_dir / workload.model_file).string(),
                           "--config", (workload.model_dir / "model.json").string(),
                           "--loader", to_string(workload.loader),
                           "--socket", kServerSocket};
    start.workload.env = kServerEnv;
    for (const PlantedFile& file : workload.planted)
      start.workload.planted.push_back({file.sandbox_path, file.content, file.mode});
    start.workload.http_socket = kServerSocket;
    start.workload.limits = {workload.limits.cpus, workload.limits.memory_bytes,
                             workload.limits.pids};
    start.enforcer.mode = plan.mode;
    for (const fs::path& policy : plan.policies)
      start.enforcer.policies.push_back(files.policy(policy).string());
    start.enforcer.backend = plan.backend;
    start.enforcer.default_posture = plan.default_posture;
    start.enforcer.watch_exec = watch_exec;

    // The agent plants the files, loads the guest's enforcer (bounded by its own ready timeout)
    // and starts the workload: with an enforcer, that is the enforcer-load step.
    start.enforcer.ready_timeout_s = std::chrono::duration<double>(plan.load_timeout).count();
    std::optional<StepDeadline> load_step;
    if (start.enforcer.wanted())
      load_step.emplace("enforcer-load", plan.load_timeout + std::chrono::seconds(5));
    started_ = std::chrono::steady_clock::now();
    const vms::StartReply reply = vm_->start(start, milliseconds(180'000));
    timings_["start_ms"] = reply.elapsed.count();
    if (!reply.ok)
      throw harness_error("the guest agent could not start the workload: " + reply.error.dump());
    if (!reply.enforcer_ready.is_null()) {
      info_.enforcer_backend = reply.enforcer_ready.value("backend", "");
      info_.enforcer_location = "guest kernel (" + image.kernel_version + ")";
    }
  }

  ~VmSandbox() override {
    InterruptShield shield;
    vm_.reset();  // stop op, power-off or virDomainDestroy: GuestVm's destructor
  }

  const SandboxInfo& info() const override { return info_; }

  ReadyResult wait_ready() override {
    ReadyResult result;
    const auto line = vm_->wait_workload_line(ready_timeout_);
    result.elapsed = since(started_);
    timings_["ready_ms"] = result.elapsed.count();
    if (!line) {
      result.failure = "model server not ready within the timeout";
      return result;
    }
    const json message = line->value("line", *line);
    const std::string event = message.value("event", line->value("event", ""));
    if (event == "ready") {
      result.ready = true;
      result.ready_message = message;
    } else if (event == "load_failed") {
      result.failure = "model load failed: " + message.value("error", "unknown error");
      result.ready_message = message;
    } else {
      result.failure = "model server exited before it was ready: " + line->dump();
    }
    return result;
  }

  UniqueFd connect_inference() override {
    // One persistent connection for the VM's life (virtio-serial has no connect/close).
    return UniqueFd(::fcntl(vm_->http_stream(), F_DUPFD_CLOEXEC, 0));
  }

  std::optional<std::string> read_file(const std::string& sandbox_path) override {
    if (!vm_->running())
      return final_files_.count(sandbox_path) ? final_files_[sandbox_path]
                                              : std::optional<std::string>{};
    auto content = vm_->read_file(sandbox_path);
    if (content) final_files_[sandbox_path] = *content;
    return content;
  }

  std::string host_address() const override { return kGuestHostAddress; }

  attacks::ModelHolder model_holder() override {
    const auto qemu = vm_->qemu_pid();
    if (!qemu) throw environment_error("the QEMU process of the guest was not found");
    return {*qemu, "the QEMU process of the guest", spec_.vm.memory_mib << 20};
  }

  // What a host administrator (or a compromised hypervisor) does: dump the guest's RAM.
  attacks::MemoryDumpInfo dump_memory(const fs::path& file) override {
    const vms::CoreDump core = vm_->core_dump_memory(file);
    return {core.bytes, core.elapsed, core.format, "virDomainCoreDumpWithFormat",
            spec_.vm.memory_mib << 20};
  }

  CommandResult run_sibling(const attacks::SiblingSpec&) override {
    throw unsupported_error("a sibling container has no equivalent for a VM target");
  }

  enforcer::EnforcerReport enforcer_report() override {
    if (vm_->running()) report_ = vm_->enforcer_events().report;
    return report_;
  }

  SandboxFinal stop(const std::vector<std::string>& keep_files) override {
    InterruptShield shield;
    SandboxFinal final;
    // What only the running guest can tell: its enforcer's events and the objective's files.
    enforcer_report();
    for (const std::string& path : keep_files)
      if (auto content = vm_->read_file(path)) final_files_[path] = *content;
    final.exited_early = vm_->workload_exited();
    const vms::StopReply reply = vm_->stop();
    timings_["poweroff_ms"] = reply.poweroff.count();
    if (reply.workload_exit.is_object()) {
      ExitStatus exit;
      // The agent sends "code": null for a workload killed by a signal (PROTOCOL.md).
      const json code = reply.workload_exit.value("code", json());
      const json signal = reply.workload_exit.value("signal", json());
      exit.code = code.is_number_integer() ? code.get<int>() : -1;
      exit.signal = signal.is_number_integer() ? signal.get<int>() : 0;
      final.workload_exit = exit;
    }
    if (reply.cgroup_stats) final.cgroup = *reply.cgroup_stats;
    final.server_log = reply.stderr_tail;
    return final;
  }

  json timings() const override { return timings_; }

  std::vector<Evidence> failure_logs() override {
    std::vector<Evidence> logs;
    try {
      // The kernel's own words for a guest that panicked or was OOM-killed, and the agent's.
      const std::string console = vm_->console_log();
      if (!console.empty())
        logs.push_back({"log",
                        "guest console (tail)",
                        {{"source", "serial console of " + vm_->name()},
                         {"tail", output_tail(console, 6000)}}});
    } catch (...) {  // a log that cannot be read is not evidence
    }
    return logs;
  }

 private:
  const TargetSpec& spec_;
  const TargetContext& context_;
  milliseconds ready_timeout_;
  // The snapshot guest's name, held while a restored guest runs; outlives vm_: released after the
  // domain is gone.
  std::optional<vms::SnapshotGuestLock> guest_lock_;
  std::optional<vms::GuestVm> vm_;
  SandboxInfo info_;
  enforcer::EnforcerReport report_;
  std::map<std::string, std::string> final_files_;
  std::chrono::steady_clock::time_point started_;
  json timings_ = json::object();
};

class VmTarget final : public Target {
 public:
  VmTarget(TargetSpec spec, TargetContext context)
      : spec_(std::move(spec)), context_(std::move(context)) {}

  const TargetSpec& spec() const override { return spec_; }
  bool watches_exec() const override { return true; }
  std::string host_address() const override { return kGuestHostAddress; }

  std::optional<std::string> unavailable_reason() override {
    if (checked_) return reason_;
    checked_ = true;
    reason_ = probe();
    return reason_;
  }

  std::unique_ptr<Sandbox> launch(const WorkloadSpec& workload, const EnforcementPlan& plan,
                                  bool watch_exec) override {
    return std::make_unique<VmSandbox>(spec_, context_, image_, accel_, *files_,
                                       snapshot_ ? &*snapshot_ : nullptr, cold_reason_, workload,
                                       plan, watch_exec);
  }

 private:
  std::optional<std::string> probe() {
    if (::geteuid() != 0) return "VM targets need root (libvirt's system instance)";
    const vms::LibvirtProbe libvirt = vms::probe_libvirt("qemu:///system");
    if (!libvirt.reachable) return "libvirt is not reachable: " + libvirt.error;
    if (spec_.kind == TargetKind::kCvm) {
      // Decided from libvirt's domain capabilities before anything boots.
      if (!libvirt.capabilities)
        return "libvirt did not report domain capabilities: " + libvirt.error;
      if (!libvirt.capabilities->supports(spec_.vm.launch_security))
        return "this host cannot launch " + spec_.vm.launch_security +
               " guests; libvirt domain capabilities: " +
               libvirt.capabilities->evidence_for(spec_.vm.launch_security);
    }
    if (!fs::exists(context_.bin_dir / "armorbench-guest-agent"))
      return "the guest agent is not built (" +
             (context_.bin_dir / "armorbench-guest-agent").string() + ")";
    if (context_.work_dir.string().rfind("/tmp/", 0) == 0)
      return "the work directory " + context_.work_dir.string() +
             " is under /tmp, which a guest cannot see (it has its own /tmp): set "
             "ARMORBENCH_WORK_DIR elsewhere";
    image_ = vms::ensure_guest_image(vms::kDefaultGuestCacheDir, context_.data_dir);
    files_.emplace(context_.work_dir / ("guest-files-" + spec_.name), context_);
    if (spec_.vm.accel == "tcg") {
      accel_ = vms::Accel::kTcg;
    } else {
      vms::KvmProbeOptions options;
      options.image = image_;
      options.agent = files_->agent();
      std::string why_not;
      const bool kvm = vms::kvm_usable(options, &why_not);
      if (spec_.vm.accel == "kvm" && !kvm)
        return "accel = \"kvm\" but KVM is not usable: " + why_not;
      accel_ = kvm ? vms::Accel::kKvm : vms::Accel::kTcg;
    }
    if (spec_.kind == TargetKind::kKata && spec_.vm.snapshot) prepare_snapshot();
    return std::nullopt;
  }

  // Builds (or finds in the cache) the snapshot every case of this target is restored from. A
  // snapshot that cannot be made is not a reason to skip the target: its cases boot cold, and
  // say why in their runtime.
  void prepare_snapshot() {
    vms::SnapshotSpec snapshot;
    snapshot.image = image_;
    snapshot.agent = context_.bin_dir / "armorbench-guest-agent";
    snapshot.builder = context_.data_dir / "vms/guest/build-snapshot-root.py";
    snapshot.warm_script = context_.data_dir / "harness/workload/warm_start.py";
    snapshot.python = kPython;
    snapshot.warm.argv = {kPython, "-c", read_whole_file(snapshot.warm_script)};
    snapshot.warm.env = kServerEnv;
    snapshot.warm.ready_timeout_s = 600;
    snapshot.memory_mib = static_cast<unsigned>(spec_.vm.memory_mib);
    snapshot.vcpus = static_cast<unsigned>(spec_.vm.vcpus);
    snapshot.accel = accel_;
    snapshot.boot_timeout = spec_.vm.boot_timeout;
    try {
      snapshot_ = vms::ensure_guest_snapshot(vms::kDefaultSnapshotCacheDir, snapshot);
      if (snapshot_->built)
        std::cerr << "armorbench: target " << spec_.name << ": built VM snapshot "
                  << snapshot_->key.substr(0, 12) << " (" << snapshot_->meta.dump() << ")\n";
    } catch (const Error& e) {
      std::cerr << "armorbench: target " << spec_.name
                << ": no VM snapshot, every case boots cold: " << e.what() << "\n";
      snapshot_.reset();
      cold_reason_ = "no snapshot (" + output_tail(e.what(), 300) + ")";
    }
  }

  TargetSpec spec_;
  TargetContext context_;
  bool checked_ = false;
  std::optional<std::string> reason_;
  vms::GuestImage image_;
  vms::Accel accel_ = vms::Accel::kTcg;
  std::optional<GuestFiles> files_;
  std::optional<vms::GuestSnapshot> snapshot_;
  std::string cold_reason_;  // why cases boot cold although snapshots are on
};

}  // namespace

std::unique_ptr<Target> make_vm_target(const TargetSpec& spec, const TargetContext& context) {
  return std::make_unique<VmTarget>(spec, context);
}

}  // namespace armorbench
