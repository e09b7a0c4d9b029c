// Is KVM usable for the micro-VM here? HOST-NOTES: /dev/kvm can exist on a host whose KVM only
// special guest kernels can use (a stock kernel hangs), or be absent; libvirt may refuse
// virttype kvm. So: check the device, ask libvirt, and only then boot a real guest with accel
// kvm under a short timeout. Each step says why it failed; the cheap ones come first.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

#include "armorbench/vms/GuestImage.h"

namespace armorbench::vms {

struct KvmProbeOptions {
  std::filesystem::path device = "/dev/kvm";
  std::string uri = "qemu:///system";
  // The boot step needs an image and an agent; without them the probe stops after libvirt's
  // answer and reports that KVM was not proven by a boot.
  std::optional<GuestImage> image;
  std::filesystem::path agent;
  std::filesystem::path run_dir = "/run/armorbench/kvm-probe";
  std::chrono::milliseconds boot_timeout{20'000};
};

struct KvmProbeResult {
  bool usable = false;
  std::string reason;   // why not, or what proved it ("booted to hello in 812 ms")
  std::string stage;    // device | libvirt | boot
  bool booted = false;  // a guest was started
  std::chrono::milliseconds elapsed{0};
};

KvmProbeResult probe_kvm(const KvmProbeOptions& options);

// probe_kvm(options).usable, with the reason in `why_not` when not usable.
bool kvm_usable(const KvmProbeOptions& options, std::string* why_not = nullptr);

}  // namespace armorbench::vms
