// The seccomp layer of a container target: which profile the runtime installs, and what the
// kernel recorded when that profile refused a syscall.
//
// `runtime-default` is ArmorBench's statement of what containerd's and Docker's default profiles
// refuse a container without CAP_SYS_ADMIN, CAP_SYS_PTRACE or CAP_SYS_MODULE, written as a
// denylist so it runs the same here as anywhere: new namespaces (unshare, setns, clone with a
// CLONE_NEW* flag), mounts and chroot, io_uring, bpf/perf, keyrings, module and kexec calls,
// process_vm_readv/writev, clone3 (ENOSYS, so that libc falls back to an inspectable clone), and
// every foreign architecture (32-bit int 0x80, x32). It adds one refusal Docker does not make:
// clone(CLONE_FILES) without CLONE_THREAD (a process sharing its descriptor table with another
// process, which a kill after an open cannot take back). Each refused call is logged by the
// kernel as an audit record (type=1326), the evidence a verdict rests on: EPERM with
// SECCOMP_FILTER_FLAG_LOG where the runtime passes that flag (crun), else a kill of the caller
// (runc 1.1, which refuses seccomp flags; the kernel logs kills without the flag).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "armorbench/attacks/Attack.h"
#include "armorbench/base/UniqueFd.h"

namespace armorbench {

struct SeccompSpec {
  enum class Mode { kUnconfined, kRuntimeDefault, kProfile };
  Mode mode = Mode::kUnconfined;
  std::filesystem::path profile;  // kProfile: an OCI linux.seccomp object (JSON)

  std::string name() const;  // "unconfined", "runtime-default", or the profile's file name
};

// The OCI linux.seccomp object of `runtime-default`. `can_log_errno`: the runtime passes
// SECCOMP_FILTER_FLAG_LOG (crun, runc >= 1.2), so refusals are EPERM and logged; otherwise (runc
// 1.1) they kill the caller, the one refusal the kernel logs without that flag.
nlohmann::json runtime_default_seccomp(bool can_log_errno);

// The OCI linux.seccomp object for the spec, nullopt for unconfined. A profile file must hold a
// JSON object with a defaultAction; an input error (with the file) otherwise. With
// `can_log_errno` the log flag is added, so that its errno refusals leave kernel evidence.
std::optional<nlohmann::json> seccomp_profile(const SeccompSpec& spec, bool can_log_errno);

// Whether this runtime version passes linux.seccomp.flags to the kernel.
bool runtime_sets_seccomp_flags(const std::string& runtime, const std::string& version);

// x86_64 syscall names by number, for the ones a profile is likely to refuse; "syscall N" else.
std::string syscall_name(long number);

// One audit record of a seccomp action (type=1326) from the kernel log.
struct SeccompRecord {
  pid_t pid = 0;
  std::string comm;
  std::string exe;
  long syscall = -1;
  std::string arch;        // "c000003e" (x86_64), "40000003" (i386)
  std::uint32_t code = 0;  // the action (SECCOMP_RET_*) with its data masked off by the kernel
  std::string text;        // the record as the kernel wrote it

  bool refused() const;  // an errno, kill or trap action (not log, allow)
};

// Parses one /dev/kmsg or dmesg line; nullopt when it is not a seccomp audit record.
std::optional<SeccompRecord> parse_seccomp_record(const std::string& line);

// Reads the kernel log from the moment it is opened: the seccomp records written since.
class KernelLogWatch {
 public:
  KernelLogWatch();  // opens /dev/kmsg at its end; inactive (no records) when it cannot
  bool active() const { return static_cast<bool>(fd_); }
  const std::string& why_inactive() const { return why_inactive_; }
  std::vector<SeccompRecord> seccomp_records();  // new since the last call

 private:
  UniqueFd fd_;
  std::string why_inactive_;
};

// The denials a seccomp record proves, for processes `in_sandbox` says belong to the sandbox.
attacks::Denial seccomp_denial(const SeccompRecord& record, const std::string& profile);

}  // namespace armorbench
