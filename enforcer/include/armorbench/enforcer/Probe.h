// Which BPF program types this kernel really loads, decided by loading a minimal program of
// each type (HOST-NOTES: kernels of one machine kind differ, and lsm/fentry can be refused even
// where the config allows them). The enforcer picks its backend from this, never from config.
#pragma once

#include <string>
#include <vector>

namespace armorbench::enforcer {

struct ProgramTypeProbe {
  std::string name;  // tracepoint, raw_tracepoint, cgroup_sock_addr, lsm, fentry, ...
  bool loads = false;
  std::string error;  // the kernel's answer when refused (e.g. "EPERM: Operation not permitted")
};

std::vector<ProgramTypeProbe> probe_program_types();

// Whether an lsm program can be loaded AND the kernel runs the bpf LSM (it is in the active
// LSM list): both are needed for the bpf-lsm backend.
bool bpf_lsm_usable(std::string* why_not = nullptr);

}  // namespace armorbench::enforcer
