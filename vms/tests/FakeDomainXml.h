// A micro-VM's domain XML for libvirt's in-process fake driver (test:///default), which parses
// the real document like qemu's driver would.
#pragma once

#include <string>

#include "armorbench/vms/DomainSpec.h"

namespace armorbench::vms::testing {

inline std::string fake_micro_vm_xml(const std::string& name) {
  DomainSpec spec;
  spec.name = name;
  spec.memory_mib = 64;
  spec.kernel = "/var/cache/armorbench/guest/vmlinux";
  spec.initrd = "/var/cache/armorbench/guest/initramfs.cpio.gz";
  spec.run_dir = "/run/armorbench/vms/" + name;
  return domain_xml(spec);
}

}  // namespace armorbench::vms::testing
