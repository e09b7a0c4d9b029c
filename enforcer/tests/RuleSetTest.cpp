// The compiler, checked through a reference of what the BPF programs do with its output: an
// LPM longest-prefix lookup over the compiled entries plus the rule semantics of common.bpf.h
// (directory depth, fromSource gates, read-only). Decisions are asserted for concrete paths.
#include "armorbench/enforcer/RuleSet.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

namespace armorbench::enforcer {
namespace {

// The bytes an LPM trie compares: the key without its prefixlen.
const std::uint8_t* key_bytes(const ab_rule_key& key) {
  return reinterpret_cast<const std::uint8_t*>(&key) + sizeof key.prefixlen;
}

bool prefix_match(const ab_rule_key& entry, const ab_rule_key& lookup) {
  const std::uint8_t* a = key_bytes(entry);
  const std::uint8_t* b = key_bytes(lookup);
  for (std::uint32_t bit = 0; bit < entry.prefixlen; ++bit) {
    const std::uint8_t mask = 0x80 >> (bit % 8);
    if ((a[bit / 8] & mask) != (b[bit / 8] & mask)) return false;
  }
  return true;
}

const ab_rule* lpm_lookup(const RuleSet& set, const ab_rule_key& lookup) {
  const ab_rule* best = nullptr;
  std::uint32_t best_len = 0;
  for (const RuleEntry& entry : set.entries) {
    if (entry.key.prefixlen > lookup.prefixlen || !prefix_match(entry.key, lookup)) continue;
    if (!best || entry.key.prefixlen > best_len) {
      best = &entry.value;
      best_len = entry.key.prefixlen;
    }
  }
  return best;
}

ab_rule_key path_lookup(__u8 kind, __u32 aux, const std::string& path) {
  ab_rule_key key{};
  key.prefixlen = AB_KEY_HEADER_BITS + AB_PATH_MAX * 8;
  key.kind = kind;
  key.aux = aux;
  std::strncpy(key.data, path.c_str(), sizeof key.data - 1);
  return key;
}

int depth(const std::string& path) {
  return static_cast<int>(std::count(path.begin(), path.end(), '/'));
}

struct Decision {
  __u8 action;
  std::uint32_t rule_id;
};

// What ab_lookup_path + ab_apply_rule decide.
Decision decide(const RuleSet& set, __u8 kind, const std::string& path,
                const std::string& source = "", bool write = false) {
  const ab_rule* rule = lpm_lookup(set, path_lookup(kind, 0, path));
  if (!rule) return {AB_ACTION_NONE, 0};
  if ((rule->flags & AB_RULE_DIR) && !(rule->flags & AB_RULE_RECURSIVE) &&
      depth(path) != rule->dir_depth + 1) {
    if (!(rule->flags & AB_RULE_DEPTH_FALLBACK)) return {AB_ACTION_NONE, 0};
    Decision d{rule->fallback_action, rule->fallback_rule_id};
    if ((rule->flags & AB_RULE_FALLBACK_READ_ONLY) && !write) d.action = AB_ACTION_ALLOW;
    return d;
  }
  Decision d{rule->action, rule->rule_id};
  if (rule->flags & AB_RULE_HAS_SOURCES) {
    const ab_rule* match = lpm_lookup(set, path_lookup(AB_KIND_SOURCE, rule->rule_id, source));
    d = match ? Decision{match->action, match->rule_id}
              : Decision{rule->fallback_action, rule->fallback_rule_id};
  }
  if ((rule->flags & AB_RULE_READ_ONLY) && !write) d.action = AB_ACTION_ALLOW;
  return d;
}

PathRule path_rule(std::string path, Action action, bool dir = false, bool recursive = false) {
  PathRule r;
  r.path = std::move(path);
  r.is_directory = dir;
  r.recursive = recursive;
  r.action = action;
  return r;
}

Policy policy_with(std::vector<PathRule> process, std::vector<PathRule> files = {}) {
  Policy p;
  p.name = "p";
  p.process = std::move(process);
  p.file_rules = std::move(files);
  return p;
}

TEST(RuleSet, ExactPathsDoNotMatchLongerNames) {
  const RuleSet set = compile({policy_with({path_rule("/bin/sh", Action::kBlock)})}, {});
  EXPECT_EQ(decide(set, AB_KIND_EXEC, "/bin/sh").action, AB_ACTION_BLOCK);
  EXPECT_EQ(decide(set, AB_KIND_EXEC, "/bin/shx").action, AB_ACTION_NONE);
  EXPECT_EQ(decide(set, AB_KIND_EXEC, "/bin/s").action, AB_ACTION_NONE);
  EXPECT_TRUE(set.has_exec_rules);
  EXPECT_FALSE(set.has_file_rules);
}

TEST(RuleSet, DirectoriesRecursiveOrDirectChildren) {
  const RuleSet set =
      compile({policy_with({}, {path_rule("/run/secrets/", Action::kBlock, true, true),
                                path_rule("/opt/app/", Action::kAudit, true, false)})},
              {});
  EXPECT_EQ(decide(set, AB_KIND_FILE, "/run/secrets/kubernetes.io/serviceaccount/token").action,
            AB_ACTION_BLOCK);
  EXPECT_EQ(decide(set, AB_KIND_FILE, "/run/secrets").action, AB_ACTION_BLOCK);  // the dir itself
  EXPECT_EQ(decide(set, AB_KIND_FILE, "/run/secretsX").action, AB_ACTION_NONE);
  EXPECT_EQ(decide(set, AB_KIND_FILE, "/opt/app/config").action, AB_ACTION_AUDIT);
  EXPECT_EQ(decide(set, AB_KIND_FILE, "/opt/app/sub/config").action, AB_ACTION_NONE);
}

TEST(RuleSet, AllowRuleTurnsTheKindIntoAnAllowlistWithThePosture) {
  const RuleSet set =
      compile({policy_with({path_rule("/usr/bin/python3.11", Action::kAllow)})},
              CompileOptions{Posture{Action::kBlock, Action::kBlock, Action::kBlock}});
  EXPECT_EQ(decide(set, AB_KIND_EXEC, "/usr/bin/python3.11").action, AB_ACTION_ALLOW);
  const Decision shell = decide(set, AB_KIND_EXEC, "/usr/bin/dash");
  EXPECT_EQ(shell.action, AB_ACTION_BLOCK);
  EXPECT_EQ(shell.rule_id, 0u);  // the default posture, not a rule
  EXPECT_EQ(set.info(0).category, "posture");
  // Files have no Allow rule: no allowlist there.
  EXPECT_EQ(decide(set, AB_KIND_FILE, "/etc/passwd").action, AB_ACTION_NONE);
}

TEST(RuleSet, AuditPostureAndAuditOnlyMode) {
  const std::vector<Policy> policies{policy_with({path_rule("/usr/bin/python3.11", Action::kAllow),
                                                  path_rule("/usr/bin/curl", Action::kBlock)})};
  CompileOptions audit_posture;
  audit_posture.posture.file = Action::kAudit;
  EXPECT_EQ(decide(compile(policies, audit_posture), AB_KIND_EXEC, "/bin/dash").action,
            AB_ACTION_AUDIT);
  CompileOptions audit_only;
  audit_only.audit_only = true;
  const RuleSet set = compile(policies, audit_only);
  EXPECT_EQ(decide(set, AB_KIND_EXEC, "/usr/bin/curl").action, AB_ACTION_AUDIT);
  EXPECT_EQ(decide(set, AB_KIND_EXEC, "/bin/dash").action, AB_ACTION_AUDIT);
  EXPECT_EQ(decide(set, AB_KIND_EXEC, "/usr/bin/python3.11").action, AB_ACTION_ALLOW);
  EXPECT_EQ(set.info(decide(set, AB_KIND_EXEC, "/usr/bin/curl").rule_id).action, Action::kAudit);
}

TEST(RuleSet, StrongerActionWinsOnTheSameKey) {
  Policy a = policy_with({path_rule("/bin/sh", Action::kAllow)});
  Policy b = policy_with({path_rule("/bin/sh", Action::kBlock)});
  EXPECT_EQ(decide(compile({a, b}, {}), AB_KIND_EXEC, "/bin/sh").action, AB_ACTION_BLOCK);
  EXPECT_EQ(decide(compile({b, a}, {}), AB_KIND_EXEC, "/bin/sh").action, AB_ACTION_BLOCK);
}

TEST(RuleSet, FromSourceExceptionFallsBackToTheBlockRule) {
  PathRule only_smi = path_rule("/run/nvidia/driver/", Action::kAllow, true, true);
  only_smi.from_source = {"/usr/bin/nvidia-smi"};
  const RuleSet set = compile(
      {policy_with({}, {path_rule("/run/nvidia/driver/", Action::kBlock, true, true), only_smi})},
      {});
  const std::string lib = "/run/nvidia/driver/usr/lib/libcuda.so.1";
  EXPECT_EQ(decide(set, AB_KIND_FILE, lib, "/usr/bin/nvidia-smi").action, AB_ACTION_ALLOW);
  EXPECT_EQ(decide(set, AB_KIND_FILE, lib, "/usr/bin/python3.11").action, AB_ACTION_BLOCK);
  // An exception is not an allowlist: other files stay unconstrained.
  EXPECT_EQ(decide(set, AB_KIND_FILE, "/etc/hostname", "/usr/bin/python3.11").action,
            AB_ACTION_NONE);
}

TEST(RuleSet, FromSourceBlockFallsBackToTheNextRuleOrNothing) {
  PathRule from_bash = path_rule("/usr/bin/curl", Action::kBlock);
  from_bash.from_source = {"/bin/bash"};
  const RuleSet set =
      compile({policy_with({from_bash, path_rule("/usr/bin/", Action::kAudit, true, true)})}, {});
  EXPECT_EQ(decide(set, AB_KIND_EXEC, "/usr/bin/curl", "/bin/bash").action, AB_ACTION_BLOCK);
  // Not from bash: the directory rule, the next less specific one, applies.
  EXPECT_EQ(decide(set, AB_KIND_EXEC, "/usr/bin/curl", "/usr/bin/python3.11").action,
            AB_ACTION_AUDIT);
}

// KubeArmor decides rules with fromSource first, however specific a rule without one is: an
// Allow of the secrets directory from /bin/cat lets cat read a token a narrower rule blocks, and
// only cat (its lenient-allow test: cat reads the token, head is refused).
TEST(RuleSet, FromSourceRulesDecideBeforeMoreSpecificRulesWithoutOne) {
  PathRule cat_may = path_rule("/run/secrets/", Action::kAllow, true, true);
  cat_may.from_source = {"/usr/bin/cat"};
  const RuleSet set = compile(
      {policy_with({}, {cat_may, path_rule("/run/secrets/token", Action::kBlock),
                        path_rule("/run/secrets/sub/", Action::kBlock, true, true)})},
      {});
  EXPECT_EQ(decide(set, AB_KIND_FILE, "/run/secrets/token", "/usr/bin/cat").action,
            AB_ACTION_ALLOW);
  EXPECT_EQ(decide(set, AB_KIND_FILE, "/run/secrets/token", "/usr/bin/head").action,
            AB_ACTION_BLOCK);
  EXPECT_EQ(decide(set, AB_KIND_FILE, "/run/secrets/sub/key", "/usr/bin/cat").action,
            AB_ACTION_ALLOW);
  EXPECT_EQ(decide(set, AB_KIND_FILE, "/run/secrets/sub/key", "/usr/bin/head").action,
            AB_ACTION_BLOCK);
  // The narrower entry's own rule still decides for everyone else, under its own id.
  const Decision head = decide(set, AB_KIND_FILE, "/run/secrets/token", "/usr/bin/head");
  EXPECT_EQ(set.info(head.rule_id).description, "/run/secrets/token");
  // A more specific gate's decision for a source beats a broader one's.
  PathRule cat_blocked = path_rule("/run/secrets/sub/", Action::kBlock, true, true);
  cat_blocked.from_source = {"/usr/bin/cat"};
  const RuleSet nested = compile(
      {policy_with({}, {cat_may, cat_blocked, path_rule("/run/secrets/sub/key", Action::kAudit)})},
      {});
  EXPECT_EQ(decide(nested, AB_KIND_FILE, "/run/secrets/sub/key", "/usr/bin/cat").action,
            AB_ACTION_BLOCK);
  EXPECT_EQ(decide(nested, AB_KIND_FILE, "/run/secrets/sub/key", "/usr/bin/head").action,
            AB_ACTION_AUDIT);
}

TEST(RuleSet, ReadOnlyAllowsReadsAndActsOnWrites) {
  PathRule shadow = path_rule("/etc/shadow", Action::kBlock);
  shadow.read_only = true;
  const RuleSet set = compile({policy_with({}, {shadow})}, {});
  EXPECT_EQ(decide(set, AB_KIND_FILE, "/etc/shadow", "", false).action, AB_ACTION_ALLOW);
  EXPECT_EQ(decide(set, AB_KIND_FILE, "/etc/shadow", "", true).action, AB_ACTION_BLOCK);
}

// KubeArmor's readOnly means "reads only" whatever the action: an Allow rule allows the reads and
// refuses the writes (it does not allow writes); an Audit rule records the writes.
TEST(RuleSet, ReadOnlyAllowRefusesWritesAndReadOnlyAuditRecordsThem) {
  PathRule logs = path_rule("/var/log/", Action::kAllow, true, true);
  logs.read_only = true;
  PathRule conf = path_rule("/etc/app.conf", Action::kAudit);
  conf.read_only = true;
  const RuleSet set = compile({policy_with({}, {logs, conf})}, {});
  EXPECT_EQ(decide(set, AB_KIND_FILE, "/var/log/syslog", "", false).action, AB_ACTION_ALLOW);
  EXPECT_EQ(decide(set, AB_KIND_FILE, "/var/log/syslog", "", true).action, AB_ACTION_BLOCK);
  EXPECT_EQ(decide(set, AB_KIND_FILE, "/etc/app.conf", "", false).action, AB_ACTION_ALLOW);
  EXPECT_EQ(decide(set, AB_KIND_FILE, "/etc/app.conf", "", true).action, AB_ACTION_AUDIT);
  CompileOptions audit;
  audit.audit_only = true;
  const RuleSet audited = compile({policy_with({}, {logs})}, audit);
  EXPECT_EQ(decide(audited, AB_KIND_FILE, "/var/log/syslog", "", true).action, AB_ACTION_AUDIT);
}

// A non-recursive directory rule covers direct children; a deeper path is judged by the nearest
// recursive directory rule above it, or the posture, never left undecided.
TEST(RuleSet, ANonRecursiveDirectoryFallsBackToTheBroaderRuleForDeeperPaths) {
  const RuleSet set = compile({policy_with({}, {path_rule("/srv/", Action::kBlock, true, true),
                                                path_rule("/srv/public/", Action::kAudit, true,
                                                          false)})},
                              {});
  EXPECT_EQ(decide(set, AB_KIND_FILE, "/srv/public/index.html").action, AB_ACTION_AUDIT);
  EXPECT_EQ(decide(set, AB_KIND_FILE, "/srv/public/deep/secret").action, AB_ACTION_BLOCK);
  EXPECT_EQ(decide(set, AB_KIND_FILE, "/srv/other").action, AB_ACTION_BLOCK);
  // Without a broader rule: the posture in allowlist mode, nothing in a block list.
  const RuleSet allow = compile(
      {policy_with({}, {path_rule("/usr/lib/", Action::kAllow, true, false)})}, {});
  EXPECT_EQ(decide(allow, AB_KIND_FILE, "/usr/lib/libc.so").action, AB_ACTION_ALLOW);
  const Decision deep = decide(allow, AB_KIND_FILE, "/usr/lib/x86_64/libc.so");
  EXPECT_EQ(deep.action, AB_ACTION_BLOCK);
  EXPECT_EQ(deep.rule_id, 0u);  // the posture
  const RuleSet blocklist = compile(
      {policy_with({}, {path_rule("/tmp/", Action::kBlock, true, false)})}, {});
  EXPECT_EQ(decide(blocklist, AB_KIND_FILE, "/tmp/a/b").action, AB_ACTION_NONE);
}

TEST(RuleSet, ProtocolsAndAllCoverSocketCreation) {
  Policy p;
  p.name = "net";
  p.protocols = {ProtocolRule{"tcp", Action::kBlock, {}, {}},
                 ProtocolRule{"all", Action::kAudit, {}, {}}};
  const RuleSet set = compile({p}, {});
  ab_rule_key tcp{};
  tcp.prefixlen = AB_KEY_HEADER_BITS;
  tcp.kind = AB_KIND_NET_PROTO;
  tcp.aux = AB_PROTO_TCP;
  EXPECT_EQ(lpm_lookup(set, tcp)->action, AB_ACTION_BLOCK);
  ab_rule_key udp = tcp;
  udp.aux = AB_PROTO_UDP;
  EXPECT_EQ(lpm_lookup(set, udp)->action, AB_ACTION_AUDIT);  // "all" is the kind's default
  EXPECT_TRUE(set.has_protocol_rules);
}

// The key the address programs look up: a full address (v4-mapped), a port and a protocol.
ab_rule_key address_key(const std::string& host, __u16 port, __u32 protocol) {
  ab_rule_key key{};
  key.prefixlen = AB_KEY_HEADER_BITS + 128;
  key.kind = AB_KIND_NET_ADDR;
  key.port = port;
  key.aux = protocol;
  int bits = 0;
  EXPECT_TRUE(parse_cidr(host, reinterpret_cast<std::uint8_t*>(key.data), bits));
  return key;
}

TEST(RuleSet, AddressRulesByCidrPortAndProtocol) {
  Policy p;
  p.name = "net";
  AddressRule r;
  r.protocol = "tcp";
  r.cidr = "10.0.0.0/8";
  r.ports = {443};
  p.addresses = {r};
  const RuleSet set = compile({p}, {});
  auto lookup = [&](const std::string& cidr_host, __u16 port, __u32 protocol) {
    const ab_rule* rule = lpm_lookup(set, address_key(cidr_host, port, protocol));
    return rule ? rule->action : static_cast<__u8>(AB_ACTION_NONE);
  };
  EXPECT_EQ(lookup("10.1.2.3", 443, AB_PROTO_TCP), AB_ACTION_BLOCK);
  EXPECT_EQ(lookup("11.1.2.3", 443, AB_PROTO_TCP), AB_ACTION_NONE);
  EXPECT_EQ(lookup("10.1.2.3", 80, AB_PROTO_TCP), AB_ACTION_NONE);
  EXPECT_EQ(lookup("10.1.2.3", 443, AB_PROTO_UDP), AB_ACTION_NONE);
}

// What ab_address_decision decides: the most specific CIDR among the four (port, protocol)
// lookups, a port and then a protocol breaking ties; the posture when no rule matches.
__u8 decide_address(const RuleSet& set, const std::string& host, __u16 port, __u32 protocol) {
  const ab_rule* best = nullptr;
  const ab_rule* posture = nullptr;
  for (int i = 0; i < 4; ++i) {
    const ab_rule* rule =
        lpm_lookup(set, address_key(host, (i & 1) ? 0 : port, (i & 2) ? 0 : protocol));
    if (!rule) continue;
    if (rule->rule_id == 0) {
      posture = rule;
    } else if (!best || rule->dir_depth > best->dir_depth) {
      best = rule;
    }
  }
  const ab_rule* decided = best ? best : posture;
  return decided ? decided->action : static_cast<__u8>(AB_ACTION_NONE);
}

// A more specific CIDR decides before a port: allowing the metadata service's address beats
// blocking port 80 everywhere, and blocking it beats allowing port 80 everywhere.
TEST(RuleSet, CidrSpecificityDecidesBeforePorts) {
  Policy p;
  p.name = "net";
  AddressRule any_80;
  any_80.protocol = "tcp";
  any_80.cidr = "0.0.0.0/0";
  any_80.ports = {80};
  any_80.action = Action::kAllow;
  AddressRule metadata;
  metadata.protocol = "any";
  metadata.cidr = "169.254.169.254/32";
  metadata.action = Action::kBlock;
  AddressRule link_local_443;
  link_local_443.protocol = "tcp";
  link_local_443.cidr = "169.254.0.0/16";
  link_local_443.ports = {443};
  link_local_443.action = Action::kAudit;
  p.addresses = {any_80, metadata, link_local_443};
  const RuleSet set = compile({p}, {});
  EXPECT_EQ(decide_address(set, "169.254.169.254", 80, AB_PROTO_TCP), AB_ACTION_BLOCK);
  EXPECT_EQ(decide_address(set, "169.254.169.254", 443, AB_PROTO_TCP), AB_ACTION_BLOCK);
  EXPECT_EQ(decide_address(set, "169.254.1.1", 443, AB_PROTO_TCP), AB_ACTION_AUDIT);
  EXPECT_EQ(decide_address(set, "169.254.1.1", 80, AB_PROTO_TCP), AB_ACTION_ALLOW);
  EXPECT_EQ(decide_address(set, "10.0.0.1", 80, AB_PROTO_TCP), AB_ACTION_ALLOW);
  // Equal CIDRs: the port-specific rule beats the any-port one.
  AddressRule net_any;
  net_any.protocol = "tcp";
  net_any.cidr = "10.0.0.0/8";
  net_any.action = Action::kBlock;
  AddressRule net_22 = net_any;
  net_22.ports = {22};
  net_22.action = Action::kAudit;
  Policy q;
  q.name = "ties";
  q.addresses = {net_any, net_22};
  const RuleSet ties = compile({q}, {});
  EXPECT_EQ(decide_address(ties, "10.1.1.1", 22, AB_PROTO_TCP), AB_ACTION_AUDIT);
  EXPECT_EQ(decide_address(ties, "10.1.1.1", 23, AB_PROTO_TCP), AB_ACTION_BLOCK);
}

TEST(RuleSet, ParseCidr) {
  std::uint8_t address[16];
  int bits = 0;
  EXPECT_TRUE(parse_cidr("10.0.0.0/8", address, bits));
  EXPECT_EQ(bits, 96 + 8);
  EXPECT_EQ(address[10], 0xff);
  EXPECT_EQ(address[12], 10);
  EXPECT_TRUE(parse_cidr("fd00::/8", address, bits));
  EXPECT_EQ(bits, 8);
  EXPECT_TRUE(parse_cidr("127.0.0.1", address, bits));
  EXPECT_EQ(bits, 128);
  EXPECT_FALSE(parse_cidr("10.0.0.0/33", address, bits));
  EXPECT_FALSE(parse_cidr("example.com/8", address, bits));
  EXPECT_FALSE(parse_cidr("10.0.0.0/", address, bits));
}

TEST(RuleSet, MemoryRuleWithAllowedReaders) {
  Policy a;
  a.name = "a";
  a.memory = MemoryRule{Action::kBlock, {"/usr/bin/gdb", "/usr/bin/crash"}, {}, {}};
  Policy b;
  b.name = "b";
  b.memory = MemoryRule{Action::kBlock, {"/usr/bin/gdb"}, {}, {}};
  const RuleSet set = compile({a, b}, {});
  EXPECT_TRUE(set.has_memory_rules);
  EXPECT_EQ(decide(set, AB_KIND_MEMORY, "/work/armorbench-memdump").action, AB_ACTION_BLOCK);
  EXPECT_EQ(decide(set, AB_KIND_MEMORY, "/usr/bin/gdb").action, AB_ACTION_ALLOW);
  // Allowed readers must be allowed by every policy that protects memory.
  EXPECT_EQ(decide(set, AB_KIND_MEMORY, "/usr/bin/crash").action, AB_ACTION_BLOCK);
}

TEST(RuleSet, GenerationIsInTheMap) {
  CompileOptions options;
  options.generation = 42;
  const RuleSet set = compile({}, options);
  ab_rule_key key{};
  key.prefixlen = AB_KEY_HEADER_BITS;
  key.kind = AB_KIND_GENERATION;
  const ab_rule* generation = lpm_lookup(set, key);
  ASSERT_NE(generation, nullptr);
  EXPECT_EQ(generation->rule_id, 42u);
}

// A path the rules cannot judge (truncated, seen from another mount namespace or root) fails
// closed: the generation entry carries the action and its rule, block, or audit in audit mode.
TEST(RuleSet, PathRulesCarryTheirFailClosedAction) {
  ab_rule_key key{};
  key.prefixlen = AB_KEY_HEADER_BITS;
  key.kind = AB_KIND_GENERATION;
  const RuleSet none = compile({}, {});
  EXPECT_EQ(lpm_lookup(none, key)->fallback_action, AB_ACTION_NONE);  // no path rules: nothing
  const RuleSet block = compile({policy_with({}, {path_rule("/etc/shadow", Action::kBlock)})}, {});
  const ab_rule* g = lpm_lookup(block, key);
  EXPECT_EQ(g->fallback_action, AB_ACTION_BLOCK);
  EXPECT_EQ(block.info(g->fallback_rule_id).description.rfind("fail closed: ", 0), 0u);
  EXPECT_EQ(block.info(g->fallback_rule_id).action, Action::kBlock);
  CompileOptions audit;
  audit.audit_only = true;
  const RuleSet audited =
      compile({policy_with({}, {path_rule("/etc/shadow", Action::kBlock)})}, audit);
  const ab_rule* ga = lpm_lookup(audited, key);
  EXPECT_EQ(ga->fallback_action, AB_ACTION_AUDIT);
  EXPECT_EQ(audited.info(ga->fallback_rule_id).action, Action::kAudit);
}

TEST(RuleSet, TooManyEntriesIsAnInputError) {
  Policy p;
  p.name = "huge";
  for (int i = 0; i < 5000; ++i)
    p.file_rules.push_back(path_rule("/data/f" + std::to_string(i), Action::kBlock));
  EXPECT_THROW(compile({p}, {}), Error);
}

}  // namespace
}  // namespace armorbench::enforcer
