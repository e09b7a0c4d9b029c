// Seccomp profiles for container targets and the kernel's records of their refusals.
#include "armorbench/harness/Seccomp.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <regex>

#include "armorbench/base/Error.h"

namespace armorbench {
namespace {

using nlohmann::json;

constexpr unsigned long kCloneFiles = 0x00000400;
constexpr unsigned long kCloneThread = 0x00010000;
constexpr int kEperm = 1;
constexpr int kEnosys = 38;

// What runtime-default refuses with EPERM, by name (libseccomp's x86_64 names).
const std::vector<std::string> kRefused{
    // New namespaces, mounts and roots: the ways out of the container's view.
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "open_tree", "move_mount",
    "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
    // io_uring: syscalls the other layers never see.
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    // Kernel-facing calls a container never needs.
    "bpf", "perf_event_open", "userfaultfd", "kexec_load", "kexec_file_load", "init_module",
    "finit_module", "delete_module", "add_key", "keyctl", "request_key", "acct", "swapon",
    "swapoff", "reboot", "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "syslog",
    "vhangup", "quotactl", "lookup_dcookie", "iopl", "ioperm", "open_by_handle_at",
    "name_to_handle_at",
    // Other processes' memory (Docker grants these only with CAP_SYS_PTRACE).
    "process_vm_readv", "process_vm_writev", "kcmp"};

// clone flags that create a namespace (CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID,
// NEWNET).
const std::vector<unsigned long> kNamespaceFlags{0x00020000, 0x02000000, 0x04000000, 0x08000000,
                                                 0x10000000, 0x20000000, 0x40000000};

// The refusal: EPERM, logged through the filter's log flag; or, for a runtime that cannot set
// that flag, the kill the kernel always logs.
json refusal(bool can_log_errno) {
  if (can_log_errno) return {{"action", "SCMP_ACT_ERRNO"}, {"errnoRet", kEperm}};
  return {{"action", "SCMP_ACT_KILL_PROCESS"}};
}

json clone_refused_when(unsigned long mask, unsigned long value, bool can_log_errno) {
  json rule = refusal(can_log_errno);
  rule["names"] = {"clone"};
  rule["args"] = {
      {{"index", 0}, {"value", mask}, {"valueTwo", value}, {"op", "SCMP_CMP_MASKED_EQ"}}};
  return rule;
}

const std::map<long, std::string>& syscall_names() {
  static const std::map<long, std::string> names{
      {0, "read"},          {1, "write"},           {2, "open"},
      {3, "close"},         {41, "socket"},         {42, "connect"},
      {44, "sendto"},       {46, "sendmsg"},        {56, "clone"},
      {57, "fork"},         {59, "execve"},         {76, "truncate"},
      {82, "rename"},       {86, "link"},           {87, "unlink"},
      {90, "chmod"},        {101, "ptrace"},        {103, "syslog"},
      {153, "vhangup"},     {155, "pivot_root"},    {159, "adjtimex"},
      {161, "chroot"},      {163, "acct"},          {164, "settimeofday"},
      {165, "mount"},       {166, "umount2"},       {167, "swapon"},
      {168, "swapoff"},     {169, "reboot"},        {172, "iopl"},
      {173, "ioperm"},      {175, "init_module"},   {176, "delete_module"},
      {179, "quotactl"},    {212, "lookup_dcookie"}, {227, "clock_settime"},
      {246, "kexec_load"},  {248, "add_key"},       {249, "request_key"},
      {250, "keyctl"},      {257, "openat"},        {264, "renameat"},
      {265, "linkat"},      {263, "unlinkat"},      {268, "fchmodat"},
      {272, "unshare"},     {298, "perf_event_open"}, {303, "name_to_handle_at"},
      {304, "open_by_handle_at"}, {305, "clock_adjtime"}, {308, "setns"},
      {310, "process_vm_readv"}, {311, "process_vm_writev"}, {312, "kcmp"},
      {313, "finit_module"}, {316, "renameat2"},    {320, "kexec_file_load"},
      {321, "bpf"},         {323, "userfaultfd"},   {425, "io_uring_setup"},
      {426, "io_uring_enter"}, {427, "io_uring_register"}, {428, "open_tree"},
      {429, "move_mount"},  {430, "fsopen"},        {431, "fsconfig"},
      {432, "fsmount"},     {433, "fspick"},        {435, "clone3"},
      {437, "openat2"},     {442, "mount_setattr"}};
  return names;
}

std::string field(const std::string& text, const std::string& key) {
  const std::string needle = " " + key + "=";
  const auto at = text.find(needle);
  if (at == std::string::npos) return "";
  auto begin = at + needle.size();
  if (begin < text.size() && text[begin] == '"') {
    const auto end = text.find('"', begin + 1);
    return text.substr(begin + 1, end == std::string::npos ? std::string::npos : end - begin - 1);
  }
  const auto end = text.find(' ', begin);
  return text.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
}

}  // namespace

std::string SeccompSpec::name() const {
  switch (mode) {
    case Mode::kUnconfined:
      return "unconfined";
    case Mode::kRuntimeDefault:
      return "runtime-default";
    case Mode::kProfile:
      return profile.filename().string();
  }
  return "unconfined";
}

json runtime_default_seccomp(bool can_log_errno) {
  json syscalls = json::array();
  json refused = refusal(can_log_errno);
  refused["names"] = kRefused;
  syscalls.push_back(refused);
  // ENOSYS, unlogged: libc then uses clone, whose flags the rules below can see.
  syscalls.push_back({{"names", {"clone3"}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", kEnosys}});
  for (unsigned long flag : kNamespaceFlags)
    syscalls.push_back(clone_refused_when(flag, flag, can_log_errno));
  syscalls.push_back(clone_refused_when(kCloneFiles | kCloneThread, kCloneFiles, can_log_errno));
  json profile = {{"defaultAction", "SCMP_ACT_ALLOW"},
                  {"architectures", {"SCMP_ARCH_X86_64"}},
                  {"syscalls", syscalls}};
  if (can_log_errno) profile["flags"] = {"SECCOMP_FILTER_FLAG_LOG"};
  return profile;
}

std::optional<json> seccomp_profile(const SeccompSpec& spec, bool can_log_errno) {
  switch (spec.mode) {
    case SeccompSpec::Mode::kUnconfined:
      return std::nullopt;
    case SeccompSpec::Mode::kRuntimeDefault:
      return runtime_default_seccomp(can_log_errno);
    case SeccompSpec::Mode::kProfile:
      break;
  }
  std::ifstream in(spec.profile);
  if (!in) throw input_error("cannot read seccomp profile " + spec.profile.string());
  json profile = json::parse(in, nullptr, false);
  if (profile.is_discarded() || !profile.is_object() || !profile.contains("defaultAction"))
    throw input_error("seccomp profile " + spec.profile.string() +
                      " is not an OCI linux.seccomp object (JSON with a defaultAction)");
  if (profile.contains("archMap"))
    throw input_error("seccomp profile " + spec.profile.string() +
                      " is in Docker's format (archMap); give the OCI linux.seccomp object a "
                      "runtime receives (architectures, syscalls with names and action)");
  json flags = profile.value("flags", json::array());
  if (!flags.is_array()) throw input_error("seccomp profile " + spec.profile.string() + ": flags must be an array");
  if (can_log_errno) {
    if (std::find(flags.begin(), flags.end(), "SECCOMP_FILTER_FLAG_LOG") == flags.end())
      flags.push_back("SECCOMP_FILTER_FLAG_LOG");
    profile["flags"] = flags;
  } else {
    profile.erase("flags");  // the runtime refuses any; errno refusals then leave no record
  }
  return profile;
}

bool runtime_sets_seccomp_flags(const std::string& runtime, const std::string& version) {
  if (runtime == "crun") return true;
  int major = 0, minor = 0;
  if (std::sscanf(version.c_str(), "%d.%d", &major, &minor) != 2) return false;
  return major > 1 || (major == 1 && minor >= 2);  // runc 1.1 says "not yet supported"
}

std::string syscall_name(long number) {
  const auto& names = syscall_names();
  const auto it = names.find(number);
  return it == names.end() ? "syscall " + std::to_string(number) : it->second;
}

bool SeccompRecord::refused() const {
  // SECCOMP_RET_ACTION_FULL values: KILL_PROCESS 0x80000000, KILL_THREAD 0, TRAP 0x30000,
  // ERRNO 0x50000, USER_NOTIF 0x7fc00000, TRACE 0x7ff00000, LOG 0x7ffc0000, ALLOW 0x7fff0000.
  return code == 0x80000000u || code == 0 || code == 0x30000u || code == 0x50000u;
}

std::optional<SeccompRecord> parse_seccomp_record(const std::string& line) {
  if (line.find("type=1326") == std::string::npos) return std::nullopt;
  SeccompRecord r;
  r.text = line;
  try {
    r.pid = static_cast<pid_t>(std::stol(field(line, "pid")));
    r.syscall = std::stol(field(line, "syscall"));
    r.code = static_cast<std::uint32_t>(std::stoul(field(line, "code"), nullptr, 16));
  } catch (const std::exception&) {
    return std::nullopt;
  }
  r.comm = field(line, "comm");
  r.exe = field(line, "exe");
  r.arch = field(line, "arch");
  return r;
}

KernelLogWatch::KernelLogWatch() : fd_(::open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC)) {
  if (!fd_) {
    why_inactive_ = std::string("cannot open /dev/kmsg: ") + std::strerror(errno);
    return;
  }
  if (::lseek(fd_.get(), 0, SEEK_END) < 0) {
    why_inactive_ = std::string("cannot seek /dev/kmsg: ") + std::strerror(errno);
    fd_.reset();
  }
}

std::vector<SeccompRecord> KernelLogWatch::seccomp_records() {
  std::vector<SeccompRecord> records;
  if (!fd_) return records;
  char buffer[8192];
  for (;;) {
    const ssize_t n = ::read(fd_.get(), buffer, sizeof buffer - 1);
    if (n < 0 && errno == EPIPE) continue;  // records overwritten before we read: skip ahead
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    std::string record(buffer, static_cast<std::size_t>(n));
    // "<prio>,<seq>,<usec>,<flags>;<message>\n": the message follows the first ';'.
    const auto semicolon = record.find(';');
    const std::string message = semicolon == std::string::npos ? record : record.substr(semicolon + 1);
    if (auto parsed = parse_seccomp_record(" " + message.substr(0, message.find('\n'))))
      records.push_back(std::move(*parsed));
  }
  return records;
}

attacks::Denial seccomp_denial(const SeccompRecord& record, const std::string& profile) {
  attacks::Denial d;
  d.by = "kernel (seccomp)";
  d.operation = Operation::kSyscall;
  const bool native = record.arch.empty() || record.arch == "c000003e";
  d.resource = native ? syscall_name(record.syscall)
                      : "syscall " + std::to_string(record.syscall) + " (arch " + record.arch + ")";
  d.detail = "the " + profile + " seccomp profile refused " + d.resource + " to pid " +
             std::to_string(record.pid) + " (" + record.comm + ", " + record.exe + ")" +
             (record.code == 0x80000000u || record.code == 0 ? " and killed it" : "") +
             ": kernel audit record type=1326";
  d.refused = record.refused();
  d.rule = "seccomp " + profile;
  d.evidence = {{"record", record.text}, {"pid", record.pid}, {"syscall", record.syscall},
                {"code", record.code}};
  return d;
}

}  // namespace armorbench
