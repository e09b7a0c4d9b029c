// The policy compiler: policies into the entries of the BPF rule map (one LPM trie, swapped as a
// whole), plus the user-space table that turns a rule id in an event back into policy, rule,
// severity and message.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <linux/types.h>

#include "armorbench/base/Enforcement.h"
#include "armorbench/enforcer/Policy.h"
#include "armorbench/enforcer/abi.h"

namespace armorbench::enforcer {

// KubeArmor's default postures: what happens to everything an allowlist does not allow.
struct Posture {
  Action file = Action::kBlock;  // process and file rules (KubeArmor shares them)
  Action network = Action::kBlock;
  Action capabilities = Action::kBlock;
};

struct CompileOptions {
  Posture posture;
  bool audit_only = false;  // audit mode: every Block (rule or posture) becomes Audit
  std::uint32_t generation = 1;
};

struct RuleInfo {
  std::uint32_t id = 0;
  std::string policy;       // policy name ("" for the default posture)
  std::string category;     // process | file | network | capabilities | memory | posture
  std::string description;  // "/bin/sh", "dir /run/secrets/ (recursive)", "tcp", "10.0.0.0/8:443"
  Action action = Action::kBlock;
  RuleLabels labels;
  SourceLocation where;
};

struct RuleEntry {
  ab_rule_key key{};
  ab_rule value{};
};

struct RuleSet {
  std::vector<RuleEntry> entries;
  std::vector<RuleInfo> rules;  // indexed by rule id; id 0 is the default posture
  std::uint32_t generation = 1;
  bool has_exec_rules = false;
  bool has_file_rules = false;
  bool has_protocol_rules = false;
  bool has_address_rules = false;
  bool has_capability_rules = false;
  bool has_memory_rules = false;

  const RuleInfo& info(std::uint32_t id) const;
};

// Throws an input error when the set does not fit the map (AB_MAX_RULES entries).
RuleSet compile(const std::vector<Policy>& policies, const CompileOptions& options);

// What a set of policy files compiles to under an enforcer mode and default posture: the one
// path from files to rules, for the harness's host enforcer and the daemon alike.
struct PolicyFileOptions {
  bool audit_only = false;  // mode audit: every block becomes audit
  DefaultPosture posture = DefaultPosture::kBlock;
  std::uint32_t generation = 1;
};
RuleSet compile_policy_files(const std::vector<std::filesystem::path>& files,
                             const PolicyFileOptions& options);

// Parses "10.0.0.0/8" or "fd00::/8" into a 16-byte IPv6 (v4-mapped) address and a prefix length
// over those 128 bits; false when malformed.
bool parse_cidr(const std::string& text, std::uint8_t address[16], int& prefix_bits);

}  // namespace armorbench::enforcer
