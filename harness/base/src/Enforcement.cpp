// Names of the enforcement vocabulary, one table per enum so text and value cannot drift apart.
#include "armorbench/base/Enforcement.h"

#include <array>
#include <utility>

namespace armorbench {
namespace {

template <typename Enum, std::size_t N>
std::string name_of(const std::array<std::pair<Enum, std::string_view>, N>& table, Enum value) {
  for (const auto& [e, name] : table)
    if (e == value) return std::string(name);
  return std::string(table.front().second);
}

template <typename Enum, std::size_t N>
std::optional<Enum> value_of(const std::array<std::pair<Enum, std::string_view>, N>& table,
                             std::string_view text) {
  for (const auto& [e, name] : table)
    if (name == text) return e;
  return std::nullopt;
}

constexpr std::array<std::pair<EnforcerMode, std::string_view>, 3> kModes{{
    {EnforcerMode::kOff, "off"},
    {EnforcerMode::kAudit, "audit"},
    {EnforcerMode::kBlock, "block"},
}};

constexpr std::array<std::pair<Backend, std::string_view>, 3> kBackends{{
    {Backend::kAuto, "auto"},
    {Backend::kTracepoint, "tracepoint"},
    {Backend::kBpfLsm, "bpf-lsm"},
}};

constexpr std::array<std::pair<DefaultPosture, std::string_view>, 2> kPostures{{
    {DefaultPosture::kBlock, "block"},
    {DefaultPosture::kAudit, "audit"},
}};

constexpr std::array<std::pair<Operation, std::string_view>, 17> kOperations{{
    {Operation::kOther, "unknown"},
    {Operation::kExec, "exec"},
    {Operation::kOpen, "open"},
    {Operation::kConnect, "connect"},
    {Operation::kSendmsg, "sendmsg"},
    {Operation::kSocket, "socket"},
    {Operation::kPtrace, "ptrace"},
    {Operation::kVmRead, "process_vm_readv"},
    {Operation::kProcMem, "proc_mem"},
    {Operation::kCapable, "capable"},
    {Operation::kUnlink, "unlink"},
    {Operation::kRename, "rename"},
    {Operation::kLink, "link"},
    {Operation::kSetattr, "setattr"},
    {Operation::kFork, "fork"},
    {Operation::kAllocate, "allocate"},
    {Operation::kSyscall, "syscall"},
}};

}  // namespace

std::string to_string(EnforcerMode mode) {
  return name_of(kModes, mode);
}
std::optional<EnforcerMode> enforcer_mode_from_string(std::string_view text) {
  return value_of(kModes, text);
}

std::string to_string(Backend backend) {
  return name_of(kBackends, backend);
}
std::optional<Backend> backend_from_string(std::string_view text) {
  return value_of(kBackends, text);
}

std::string to_string(DefaultPosture posture) {
  return name_of(kPostures, posture);
}
std::optional<DefaultPosture> default_posture_from_string(std::string_view text) {
  return value_of(kPostures, text);
}

std::string to_string(Operation operation) {
  return name_of(kOperations, operation);
}
std::optional<Operation> operation_from_string(std::string_view text) {
  return value_of(kOperations, text);
}

}  // namespace armorbench
