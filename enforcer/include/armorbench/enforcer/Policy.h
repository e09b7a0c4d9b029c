// The enforcer's policy model: what a KubeArmorPolicy (YAML) or a native TOML policy says, for the
// subset the enforcer really enforces. Every rule remembers where it was written, so events and
// errors can point at file:line:column.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "armorbench/base/Error.h"

namespace armorbench::enforcer {

enum class Action { kAllow, kAudit, kBlock };

std::string to_string(Action action);

// Severity, tags and message, as KubeArmor carries them from policy to alert.
struct RuleLabels {
  int severity = 1;
  std::vector<std::string> tags;
  std::string message;
};

// A process or file rule: one path or one directory.
struct PathRule {
  std::string path;  // "/bin/sh" or, for a directory, "/usr/lib/" (ends in '/')
  bool is_directory = false;
  bool recursive = false;                // directories: at any depth, else direct children only
  bool read_only = false;                // file rules: reads allowed, writes take the action
  std::vector<std::string> from_source;  // only when the source executable is one of these
  Action action = Action::kBlock;
  RuleLabels labels;
  SourceLocation where;
};

// Socket creation by protocol (KubeArmor matchProtocols): tcp, udp, icmp, icmpv6, raw, all.
struct ProtocolRule {
  std::string protocol;
  Action action = Action::kBlock;
  RuleLabels labels;
  SourceLocation where;
};

// Outbound connect/sendmsg by address, CIDR and port (native policies).
struct AddressRule {
  std::string protocol = "any";  // tcp | udp | any
  std::string cidr;              // "10.0.0.0/8", "::1/128", "0.0.0.0/0"
  std::vector<int> ports;        // empty: any port
  Action action = Action::kBlock;
  RuleLabels labels;
  SourceLocation where;
};

struct CapabilityRule {
  std::string capability;  // KubeArmor's lowercase name without CAP_, e.g. "net_raw"
  int number = -1;
  Action action = Action::kBlock;
  RuleLabels labels;
  SourceLocation where;
};

// Protection of the workload's memory from processes outside its container: ptrace,
// process_vm_readv/writev and /proc/<pid>/{mem,maps,smaps,pagemap}.
struct MemoryRule {
  Action action = Action::kBlock;
  std::vector<std::string> allowed_executables;  // these may still read (e.g. a debugger)
  RuleLabels labels;
  SourceLocation where;
};

struct Policy {
  std::string name;
  std::string file;
  std::string kind;  // "KubeArmorPolicy" or "ArmorBenchPolicy" (native TOML)
  std::vector<PathRule> process;
  std::vector<PathRule> file_rules;
  std::vector<ProtocolRule> protocols;
  std::vector<AddressRule> addresses;
  std::vector<CapabilityRule> capabilities;
  std::optional<MemoryRule> memory;
};

// Reads a policy file: KubeArmorPolicy YAML (.yaml/.yml, possibly several documents) or the
// native TOML form (.toml). Fields the enforcer cannot enforce are errors at file:line:column.
std::vector<Policy> load_policy_file(const std::string& path);

// KubeArmor's capability names ("net_raw", "sys_ptrace", ...) to numbers; -1 when unknown.
int capability_number(const std::string& name);

}  // namespace armorbench::enforcer
