// The host probe: each check tries the real thing and records what it saw.
#include "armorbench/harness/Doctor.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "armorbench/base/CgroupStats.h"
#include "armorbench/base/Subprocess.h"
#include "armorbench/enforcer/Probe.h"
#include "armorbench/vms/DomainCapabilities.h"
#include "armorbench/vms/KvmProbe.h"

namespace armorbench {
namespace fs = std::filesystem;
namespace {

std::string first_line_of(const std::string& text) {
  return text.substr(0, text.find('\n'));
}

Check runtime_check(const std::string& name) {
  const auto path = find_executable(name);
  if (!path) return {"runtime." + name, false, "not found on PATH"};
  const CommandResult version = run_command({*path, "--version"}, std::chrono::seconds(5));
  return {"runtime." + name, version.status.exited_ok(),
          first_line_of(version.out) + " (" + *path + ")"};
}

}  // namespace

nlohmann::json HostFacts::to_json() const {
  nlohmann::json out = nlohmann::json::object();
  for (const Check& c : checks) out[c.name] = {{"ok", c.ok}, {"detail", c.detail}};
  return out;
}

const Check* HostFacts::find(const std::string& name) const {
  for (const Check& c : checks)
    if (c.name == name) return &c;
  return nullptr;
}

std::optional<std::string> HostFacts::missing(const std::string& feature) const {
  static const std::map<std::string, std::string> check_for{{"root", "root"},
                                                            {"runc", "runtime.runc"},
                                                            {"crun", "runtime.crun"},
                                                            {"bpf", "bpf.tracepoint"},
                                                            {"bpf-lsm", "bpf.lsm"},
                                                            {"libvirt", "libvirt"},
                                                            {"kvm", "kvm"},
                                                            {"sev", "cvm.sev"},
                                                            {"sev-snp", "cvm.sev-snp"},
                                                            {"tdx", "cvm.tdx"}};
  const auto it = check_for.find(feature);
  if (it == check_for.end()) return "unknown feature";
  const Check* check = find(it->second);
  if (!check) return "not probed";
  if (check->ok) return std::nullopt;
  return check->detail;
}

std::string HostFacts::table() const {
  std::size_t width = 0;
  for (const Check& c : checks) width = std::max(width, c.name.size());
  std::ostringstream out;
  for (const Check& c : checks) {
    out << (c.ok ? "  ok   " : "  --   ") << c.name << std::string(width + 2 - c.name.size(), ' ')
        << c.detail << '\n';
  }
  return out.str();
}

HostFacts probe_host(const HostProbeOptions& options) {
  HostFacts facts;
  auto add = [&](Check check) { facts.checks.push_back(std::move(check)); };

  add({"root", ::geteuid() == 0,
       ::geteuid() == 0 ? "running as root"
                        : "not root: containers, "
                          "BPF and mounts need root"});
  utsname uts{};
  ::uname(&uts);
  add({"kernel", true, std::string(uts.release) + " " + uts.machine});
  add(runtime_check("runc"));
  add(runtime_check("crun"));

  for (const auto& probe : enforcer::probe_program_types())
    add({"bpf." + probe.name, probe.loads, probe.loads ? "loads" : "refused: " + probe.error});
  {
    std::string why;
    const bool usable = enforcer::bpf_lsm_usable(&why);
    // bpf.lsm as a feature means "the bpf-lsm backend can run here".
    for (Check& c : facts.checks)
      if (c.name == "bpf.lsm" && !usable) c = {"bpf.lsm", false, why};
  }
  const bool tracefs = fs::exists("/sys/kernel/tracing/events/syscalls");
  add({"tracefs", tracefs,
       tracefs ? "/sys/kernel/tracing"
               : "not mounted (mount -t tracefs tracefs /sys/kernel/tracing)"});
  {
    std::ifstream in("/sys/kernel/security/lsm");
    std::string lsm;
    std::getline(in, lsm);
    add({"lsm", !lsm.empty(), lsm.empty() ? "securityfs not mounted" : lsm});
  }
  {
    const auto v2 = cgroup2_mount();
    add({"cgroup.v2", v2.has_value(), v2 ? v2->string() : "no cgroup2 mount"});
  }

  if (options.libvirt) {
    const vms::LibvirtProbe libvirt = vms::probe_libvirt("qemu:///system");
    add({"libvirt", libvirt.reachable,
         libvirt.reachable
             ? "libvirt " + libvirt.libvirt_version + ", " + libvirt.hypervisor_version
             : libvirt.error});
    // Whether KVM really boots a guest; without an image the probe stops at libvirt's answer
    // (the kata target boot-probes with its image before choosing KVM).
    const vms::KvmProbeResult kvm = vms::probe_kvm(vms::KvmProbeOptions{});
    add({"kvm", kvm.usable,
         kvm.usable ? kvm.reason : kvm.reason + " (VMs run under TCG emulation)"});
    for (const char* type : {"sev", "sev-snp", "tdx"}) {
      const bool ok = libvirt.capabilities && libvirt.capabilities->supports(type);
      std::string detail =
          !libvirt.capabilities
              ? "unknown: " + (libvirt.error.empty() ? "no capabilities" : libvirt.error)
              : (ok ? "supported: " : "not supported: ") + libvirt.capabilities->evidence_for(type);
      add({std::string("cvm.") + type, ok, detail});
    }
  }
  return facts;
}

}  // namespace armorbench
