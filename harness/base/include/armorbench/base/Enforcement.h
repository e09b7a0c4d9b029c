// The vocabulary of enforcement shared by every component (scenario model, enforcer, guest agent
// protocol, attacks, scoring): the modes a case runs under, the enforcer's backends, the default
// posture of an allowlist and the operations a decision is about. Parsed from text here, once.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace armorbench {

// off (no enforcer), audit (record only), block (deny).
enum class EnforcerMode { kOff, kAudit, kBlock };

std::string to_string(EnforcerMode mode);  // "off", "audit", "block"
std::optional<EnforcerMode> enforcer_mode_from_string(std::string_view text);

// Where the enforcer hooks the kernel: auto (probed at run time), tracepoint, bpf-lsm.
enum class Backend { kAuto, kTracepoint, kBpfLsm };

std::string to_string(Backend backend);  // "auto", "tracepoint", "bpf-lsm"
std::optional<Backend> backend_from_string(std::string_view text);

// What an allowlist does with what it does not allow: block or audit.
enum class DefaultPosture { kBlock, kAudit };

std::string to_string(DefaultPosture posture);  // "block", "audit"
std::optional<DefaultPosture> default_posture_from_string(std::string_view text);

// What an enforcer decision is about (abi.h's ab_operation, by name).
enum class Operation {
  kExec,
  kOpen,
  kConnect,
  kSendmsg,
  kSocket,
  kPtrace,
  kVmRead,   // process_vm_readv/writev
  kProcMem,  // /proc/<pid>/mem and friends
  kCapable,
  // Changes to a file-system object (the resource is its path; EventRecord.change says which).
  kUnlink,   // unlink, rmdir
  kRename,   // the object renamed, or a name it replaces
  kLink,     // a hard link made to it, or at its name
  kSetattr,  // truncate, chmod, chown
  // Refused by the kernel's resource controllers (pids.max, memory.max), never by the enforcer.
  kFork,
  kAllocate,
  // A system call a runtime's seccomp profile refused (the resource is the call's name).
  kSyscall,
  kOther,
};

std::string to_string(Operation operation);  // "exec", "open", ..., "unknown"
std::optional<Operation> operation_from_string(std::string_view text);

}  // namespace armorbench
