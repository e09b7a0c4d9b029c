// Program-type probes: a two-instruction program ("return 0") loaded with the right attach
// type; the kernel's verdict is the answer.
#include "armorbench/enforcer/Probe.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <string.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <optional>

namespace armorbench::enforcer {
namespace {

struct ProbeSpec {
  const char* name;
  bpf_prog_type type;
  bpf_attach_type attach = static_cast<bpf_attach_type>(0);
  const char* btf_target = nullptr;  // kernel function the program attaches to (lsm, fentry)
};

std::string errno_text(int err) {
  const char* name = strerrorname_np(err);
  return std::string(name ? name : "E?") + ": " + strerror(err);
}

ProgramTypeProbe probe(const ProbeSpec& spec) {
  ProgramTypeProbe result{spec.name, false, ""};
  const bpf_insn program[] = {
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0},  // r0 = 0
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},                   // exit
  };
  LIBBPF_OPTS(bpf_prog_load_opts, opts);
  opts.expected_attach_type = spec.attach;
  if (spec.btf_target) {
    const int id = libbpf_find_vmlinux_btf_id(spec.btf_target, spec.attach);
    if (id < 0) {
      result.error = std::string("no BTF for ") + spec.btf_target + " (" + errno_text(-id) + ")";
      return result;
    }
    opts.attach_btf_id = static_cast<__u32>(id);
  }
  const int fd = bpf_prog_load(spec.type, nullptr, "GPL", program, 2, &opts);
  if (fd < 0) {
    result.error = errno_text(errno);
    return result;
  }
  ::close(fd);
  result.loads = true;
  return result;
}

std::string active_lsms() {
  std::ifstream in("/sys/kernel/security/lsm");
  std::string list;
  std::getline(in, list);
  return list;
}

}  // namespace

std::vector<ProgramTypeProbe> probe_program_types() {
  // Probes fail by design: libbpf's own logging would be noise. Restored after.
  const libbpf_print_fn_t previous = libbpf_set_print(nullptr);
  const ProbeSpec specs[] = {
      {"tracepoint", BPF_PROG_TYPE_TRACEPOINT},
      {"raw_tracepoint", BPF_PROG_TYPE_RAW_TRACEPOINT},
      {"cgroup_sock_addr", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET4_CONNECT},
      {"cgroup_skb", BPF_PROG_TYPE_CGROUP_SKB, BPF_CGROUP_INET_EGRESS},
      {"lsm", BPF_PROG_TYPE_LSM, BPF_LSM_MAC, "bprm_check_security"},
      {"fentry", BPF_PROG_TYPE_TRACING, BPF_TRACE_FENTRY, "do_unlinkat"},
  };
  std::vector<ProgramTypeProbe> results;
  for (const ProbeSpec& spec : specs) results.push_back(probe(spec));
  libbpf_set_print(previous);
  return results;
}

bool bpf_lsm_usable(std::string* why_not) {
  for (const ProgramTypeProbe& p : probe_program_types()) {
    if (p.name != "lsm") continue;
    if (!p.loads) {
      if (why_not) *why_not = "lsm programs are refused by this kernel (" + p.error + ")";
      return false;
    }
  }
  const std::string lsms = active_lsms();
  if (lsms.find("bpf") == std::string::npos) {
    if (why_not)
      *why_not = lsms.empty() ? "securityfs not mounted or no LSM list"
                              : "bpf is not an active LSM (" + lsms + ")";
    return false;
  }
  return true;
}

}  // namespace armorbench::enforcer
