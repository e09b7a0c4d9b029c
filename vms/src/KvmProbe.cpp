// KVM probe: device, libvirt's domain capabilities for virttype kvm, then a short real boot.
#include "armorbench/vms/KvmProbe.h"

#include <libvirt/libvirt.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "armorbench/base/Error.h"
#include "armorbench/vms/GuestVm.h"
#include "armorbench/vms/LibvirtConnection.h"

namespace armorbench::vms {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

KvmProbeResult probe_kvm(const KvmProbeOptions& options) {
  const auto start = Clock::now();
  KvmProbeResult result;
  auto finish = [&](std::string stage, std::string reason) {
    result.stage = std::move(stage);
    result.reason = std::move(reason);
    result.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
    return result;
  };

  if (::access(options.device.c_str(), R_OK | W_OK) != 0)
    return finish("device", options.device.string() + " is not usable: " + std::strerror(errno));

  try {
    LibvirtConnection connection(options.uri);
    char* caps =
        virConnectGetDomainCapabilities(connection.get(), nullptr, "x86_64", nullptr, "kvm", 0);
    if (!caps) return finish("libvirt", "libvirt refuses virttype kvm: " + last_libvirt_error());
    std::free(caps);
  } catch (const Error& e) {
    return finish("libvirt", e.what());
  }

  if (!options.image || options.agent.empty())
    return finish("boot", "libvirt offers kvm, but no image was given to prove it by a boot");
  try {
    GuestVmConfig config;
    config.name = "armorbench-kvm-probe-" + std::to_string(::getpid());
    config.image = *options.image;
    config.run_dir = options.run_dir;
    config.agent = options.agent;
    config.uri = options.uri;
    config.accel = Accel::kKvm;
    config.network = false;
    config.boot_timeout = options.boot_timeout;
    result.booted = true;
    GuestVm vm(config);
    result.usable = true;
    return finish("boot",
                  "booted to hello in " + std::to_string(vm.boot_latency().count()) + " ms");
  } catch (const Error& e) {
    return finish("boot", std::string("a kvm guest did not boot: ") + e.what());
  }
}

bool kvm_usable(const KvmProbeOptions& options, std::string* why_not) {
  const KvmProbeResult result = probe_kvm(options);
  if (!result.usable && why_not) *why_not = result.reason;
  return result.usable;
}

}  // namespace armorbench::vms
