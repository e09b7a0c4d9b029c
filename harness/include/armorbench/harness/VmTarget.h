// The VM targets (kata micro-VM, cvm confidential VM), implemented with libvirt in vms/.
#pragma once

#include <memory>

#include "armorbench/harness/Target.h"

namespace armorbench {

std::unique_ptr<Target> make_vm_target(const TargetSpec& spec, const TargetContext& context);

}  // namespace armorbench
