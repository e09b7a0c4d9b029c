// The policy compiler. Keys follow abi.h: an exact path covers its terminating NUL, a directory
// only its bytes, a kind-only key (8 bits) is that kind's default. When two rules land on the
// same key the stronger action wins (Block > Audit > Allow), as AppArmor's deny rules do.
#include "armorbench/enforcer/RuleSet.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <tuple>

namespace armorbench::enforcer {
namespace {

constexpr std::uint32_t kPostureId = 0;
constexpr std::size_t kMaxEntries = 4096;  // AB_MAX_RULES in common.bpf.h

__u8 to_abi(Action action) {
  switch (action) {
    case Action::kAllow:
      return AB_ACTION_ALLOW;
    case Action::kAudit:
      return AB_ACTION_AUDIT;
    case Action::kBlock:
      return AB_ACTION_BLOCK;
  }
  return AB_ACTION_NONE;
}

int strength(__u8 action) {
  switch (action) {
    case AB_ACTION_BLOCK:
      return 3;
    case AB_ACTION_AUDIT:
      return 2;
    case AB_ACTION_ALLOW:
      return 1;
    default:
      return 0;
  }
}

int components(const std::string& dir) {
  return static_cast<int>(std::count(dir.begin(), dir.end(), '/')) - 1;  // "/usr/bin/" -> 2
}

// The comparable identity of a key: (kind, port, aux, prefixlen, data bytes within the prefix).
using KeyId = std::tuple<__u8, __u16, __u32, __u32, std::string>;

KeyId key_id(const ab_rule_key& key) {
  const std::size_t data_bits =
      key.prefixlen > AB_KEY_HEADER_BITS ? key.prefixlen - AB_KEY_HEADER_BITS : 0;
  return {key.kind, key.port, key.aux, key.prefixlen, std::string(key.data, (data_bits + 7) / 8)};
}

ab_rule_key path_key(__u8 kind, __u32 aux, const std::string& path, bool directory) {
  ab_rule_key key{};
  key.kind = kind;
  key.aux = aux;
  std::memcpy(key.data, path.data(), std::min(path.size(), sizeof key.data - 1));
  // An exact path includes its NUL so that "/bin/sh" does not also match "/bin/shx".
  const std::size_t bytes = directory ? path.size() : path.size() + 1;
  key.prefixlen = AB_KEY_HEADER_BITS + static_cast<__u32>(bytes * 8);
  return key;
}

ab_rule_key kind_default_key(__u8 kind) {
  ab_rule_key key{};
  key.kind = kind;
  key.prefixlen = AB_KEY_KIND_BITS;
  return key;
}

ab_rule_key header_key(__u8 kind, __u16 port, __u32 aux) {
  ab_rule_key key{};
  key.kind = kind;
  key.port = port;
  key.aux = aux;
  key.prefixlen = AB_KEY_HEADER_BITS;
  return key;
}

class Compiler {
 public:
  explicit Compiler(const CompileOptions& options) : options_(options) {
    set_.generation = options.generation;
    RuleInfo posture;
    posture.category = "posture";
    posture.description = "default posture";
    set_.rules.push_back(posture);
  }

  __u8 action(Action a) const {
    if (options_.audit_only && a == Action::kBlock) return AB_ACTION_AUDIT;
    return to_abi(a);
  }

  std::uint32_t add_info(const Policy& policy, std::string category, std::string description,
                         Action a, const RuleLabels& labels, const SourceLocation& where) {
    RuleInfo info;
    info.id = static_cast<std::uint32_t>(set_.rules.size());
    info.policy = policy.name;
    info.category = std::move(category);
    info.description = std::move(description);
    info.action = options_.audit_only && a == Action::kBlock ? Action::kAudit : a;
    info.labels = labels;
    info.where = where;
    set_.rules.push_back(info);
    return info.id;
  }

  // Inserts or strengthens an entry.
  ab_rule& put(const ab_rule_key& key, const ab_rule& value) {
    const KeyId id = key_id(key);
    auto it = index_.find(id);
    if (it == index_.end()) {
      index_[id] = entries_.size();
      entries_.push_back({key, value});
      return entries_.back().value;
    }
    ab_rule& existing = entries_[it->second].value;
    if (strength(value.action) > strength(existing.action)) {
      const __u8 flags = existing.flags | value.flags;
      existing = value;
      existing.flags = flags;
    } else {
      existing.flags |= value.flags;
    }
    return existing;
  }

  void path_rules(const Policy& policy, const std::vector<PathRule>& rules, __u8 kind,
                  const char* category) {
    for (const PathRule& rule : rules) {
      std::string description = rule.is_directory
                                    ? "dir " + rule.path + (rule.recursive ? " (recursive)" : "")
                                    : rule.path;
      if (rule.read_only) description += " (read-only)";
      if (!rule.from_source.empty()) {
        description += " from";
        for (const auto& source : rule.from_source) description += " " + source;
      }
      const std::uint32_t id =
          add_info(policy, category, description, rule.action, rule.labels, rule.where);
      ab_rule value{};
      value.rule_id = id;
      // readOnly (KubeArmor): reads are allowed whatever the action, writes are refused
      // whatever the action, except that an Audit rule only records them.
      value.action = action(rule.read_only && rule.action == Action::kAllow ? Action::kBlock
                                                                             : rule.action);
      value.flags = (rule.is_directory ? AB_RULE_DIR : 0) |
                    (rule.recursive ? AB_RULE_RECURSIVE : 0) |
                    (rule.read_only ? AB_RULE_READ_ONLY : 0);
      if (rule.is_directory) value.dir_depth = static_cast<__u8>(components(rule.path));
      std::vector<ab_rule_key> keys{path_key(kind, 0, rule.path, rule.is_directory)};
      // KubeArmor's directory rules also cover the directory itself (opening it, listing it).
      if (rule.is_directory && kind == AB_KIND_FILE && rule.path.size() > 1)
        keys.push_back(path_key(kind, 0, rule.path.substr(0, rule.path.size() - 1), false));
      for (const ab_rule_key& key : keys) {
        if (rule.from_source.empty()) {
          put(key, value);
          continue;
        }
        Gate& gate = gates_[key_id(key)];
        if (gate.sources.empty()) {
          gate.key = key;
          gate.value = value;
          gate.value.action = AB_ACTION_NONE;  // the source entries carry the decision
          gate.value.flags |= AB_RULE_HAS_SOURCES;
        }
        for (const std::string& source : rule.from_source) gate.sources.push_back({source, value});
      }
    }
  }

  // Allowlist mode per kind (KubeArmor): once a kind has an Allow rule, whatever no rule
  // allows gets the default posture; the process kind uses the file posture.
  void postures() {
    if (allowlist_exec_) put(kind_default_key(AB_KIND_EXEC), posture_value(options_.posture.file));
    if (allowlist_file_) put(kind_default_key(AB_KIND_FILE), posture_value(options_.posture.file));
    if (allowlist_protocols_)
      put(kind_default_key(AB_KIND_NET_PROTO), posture_value(options_.posture.network));
    if (allowlist_addresses_)
      put(kind_default_key(AB_KIND_NET_ADDR), posture_value(options_.posture.network));
    if (allowlist_capabilities_)
      put(kind_default_key(AB_KIND_CAPABILITY), posture_value(options_.posture.capabilities));
  }

  ab_rule posture_value(Action a) const {
    ab_rule value{};
    value.rule_id = kPostureId;
    value.action = action(a);
    return value;
  }

  // Installs the fromSource gates. A gate replaces whatever plain rule sits on its key; when
  // no source matches, the next rule the lookup would have found applies instead: the plain rule
  // on the same key, else the longest shorter plain entry of the kind (posture included).
  void install_gates() {
    for (auto& [id, gate] : gates_) {
      const ab_rule* best = nullptr;
      __u32 best_len = 0;
      for (const RuleEntry& candidate : entries_) {
        if (candidate.key.kind != gate.key.kind || candidate.key.prefixlen > gate.key.prefixlen)
          continue;
        if (!prefix_matches(candidate.key, gate.key)) continue;
        if (!best || candidate.key.prefixlen >= best_len) {
          best = &candidate.value;
          best_len = candidate.key.prefixlen;
        }
      }
      gate.value.fallback_action = best ? best->action : static_cast<__u8>(AB_ACTION_NONE);
      gate.value.fallback_rule_id = best ? best->rule_id : kPostureId;
      if (auto it = index_.find(id); it != index_.end())
        entries_[it->second].value = gate.value;
      else
        put(gate.key, gate.value);
      for (const auto& [source, value] : gate.sources)
        put(path_key(AB_KIND_SOURCE, gate.value.rule_id, source, false), value);
    }
  }

  // KubeArmor decides rules with fromSource before rules without one, however specific those
  // are (shared.h's lookup order: exact path with source, directory walk with source, then the
  // same without). The trie finds the most specific entry, so a plain entry below a gated
  // directory becomes a gate too: the broader gate's sources decide first (the most specific
  // gate's decision for each source), the entry's own rule is the fallback.
  void sources_first() {
    std::vector<std::pair<std::size_t, std::map<std::string, ab_rule>>> inherit;
    for (std::size_t i = 0; i < entries_.size(); ++i) {
      const RuleEntry& entry = entries_[i];
      if ((entry.key.kind != AB_KIND_FILE && entry.key.kind != AB_KIND_EXEC) ||
          entry.key.prefixlen <= AB_KEY_HEADER_BITS || (entry.value.flags & AB_RULE_HAS_SOURCES))
        continue;
      const std::size_t bytes = (entry.key.prefixlen - AB_KEY_HEADER_BITS) / 8;
      const std::string path(entry.key.data, std::min(bytes, sizeof entry.key.data));
      const int entry_depth = static_cast<int>(std::count(path.begin(), path.end(), '/'));
      std::map<std::string, std::pair<__u32, ab_rule>> sources;  // source -> (gate length, rule)
      for (const auto& [id, gate] : gates_) {
        if (gate.key.prefixlen >= entry.key.prefixlen || !prefix_matches(gate.key, entry.key))
          continue;
        const bool recursive = gate.value.flags & AB_RULE_RECURSIVE;
        if ((gate.value.flags & AB_RULE_DIR) && !recursive &&
            entry_depth != gate.value.dir_depth + 1 + (path.back() == '/' ? 1 : 0))
          continue;
        for (const auto& [source, value] : gate.sources) {
          auto it = sources.find(source);
          if (it == sources.end() || it->second.first < gate.key.prefixlen)
            sources[source] = {gate.key.prefixlen, value};
        }
      }
      if (sources.empty()) continue;
      std::map<std::string, ab_rule> decided;
      for (const auto& [source, by_gate] : sources) decided[source] = by_gate.second;
      inherit.emplace_back(i, std::move(decided));
    }
    for (auto& [index, sources] : inherit) {
      ab_rule& value = entries_[index].value;
      value.fallback_action = value.action;
      value.fallback_rule_id = value.rule_id;
      value.action = AB_ACTION_NONE;
      value.flags |= AB_RULE_HAS_SOURCES;
      const std::uint32_t gate_id = value.rule_id;  // put() may move entries_
      for (const auto& [source, decision] : sources)
        put(path_key(AB_KIND_SOURCE, gate_id, source, false), decision);
    }
  }

  // A non-recursive directory rule covers direct children only; a deeper path falls back to
  // the nearest recursive directory rule above it, else the kind's posture (KubeArmor's walk).
  void depth_fallbacks() {
    for (RuleEntry& entry : entries_) {
      const __u8 flags = entry.value.flags;
      if (!(flags & AB_RULE_DIR) || (flags & (AB_RULE_RECURSIVE | AB_RULE_HAS_SOURCES))) continue;
      const ab_rule* best = nullptr;
      __u32 best_len = 0;
      for (const RuleEntry& candidate : entries_) {
        if (&candidate == &entry || candidate.key.prefixlen >= entry.key.prefixlen) continue;
        const bool posture = candidate.key.prefixlen <= AB_KEY_KIND_BITS;
        const bool recursive_dir = (candidate.value.flags & AB_RULE_DIR) &&
                                   (candidate.value.flags & AB_RULE_RECURSIVE) &&
                                   !(candidate.value.flags & AB_RULE_HAS_SOURCES);
        if (!(posture || recursive_dir) || !prefix_matches(candidate.key, entry.key)) continue;
        if (!best || candidate.key.prefixlen > best_len) {
          best = &candidate.value;
          best_len = candidate.key.prefixlen;
        }
      }
      if (!best) continue;
      entry.value.flags |= AB_RULE_DEPTH_FALLBACK;
      if (best->flags & AB_RULE_READ_ONLY) entry.value.flags |= AB_RULE_FALLBACK_READ_ONLY;
      entry.value.fallback_action = best->action;
      entry.value.fallback_rule_id = best->rule_id;
    }
  }

  static bool prefix_matches(const ab_rule_key& prefix, const ab_rule_key& key) {
    if (prefix.prefixlen <= AB_KEY_KIND_BITS) return prefix.kind == key.kind;
    if (prefix.kind != key.kind || prefix.port != key.port || prefix.aux != key.aux) return false;
    const std::size_t bits = prefix.prefixlen - AB_KEY_HEADER_BITS;
    const std::size_t bytes = bits / 8;
    return std::memcmp(prefix.data, key.data, bytes) == 0;  // paths use whole bytes
  }

  void compile(const std::vector<Policy>& policies) {
    for (const Policy& policy : policies) {
      // An Allow rule switches its kind to allowlist mode; one with fromSource does not: it is an
      // exception to a Block rule on the same path ("only nvidia-smi may open the driver").
      auto has_allow = [](const auto& rules) {
        return std::any_of(rules.begin(), rules.end(), [](const auto& r) {
          if constexpr (requires { r.from_source; })
            return r.action == Action::kAllow && r.from_source.empty();
          else
            return r.action == Action::kAllow;
        });
      };
      allowlist_exec_ |= has_allow(policy.process);
      allowlist_file_ |= has_allow(policy.file_rules);
      allowlist_protocols_ |= has_allow(policy.protocols);
      allowlist_addresses_ |= has_allow(policy.addresses);
      allowlist_capabilities_ |= has_allow(policy.capabilities);

      path_rules(policy, policy.process, AB_KIND_EXEC, "process");
      path_rules(policy, policy.file_rules, AB_KIND_FILE, "file");
      set_.has_exec_rules |= !policy.process.empty();
      set_.has_file_rules |= !policy.file_rules.empty();

      for (const ProtocolRule& rule : policy.protocols) {
        const std::uint32_t id = add_info(policy, "network", "protocol " + rule.protocol,
                                          rule.action, rule.labels, rule.where);
        ab_rule value{};
        value.rule_id = id;
        value.action = action(rule.action);
        static const std::map<std::string, __u32> classes{{"tcp", AB_PROTO_TCP},
                                                          {"udp", AB_PROTO_UDP},
                                                          {"icmp", AB_PROTO_ICMP},
                                                          {"icmpv6", AB_PROTO_ICMPV6},
                                                          {"raw", AB_PROTO_RAW}};
        if (rule.protocol == "all")
          put(kind_default_key(AB_KIND_NET_PROTO), value);
        else
          put(header_key(AB_KIND_NET_PROTO, 0, classes.at(rule.protocol)), value);
        set_.has_protocol_rules = true;
      }

      for (const AddressRule& rule : policy.addresses) {
        std::uint8_t address[16];
        int bits = 0;
        if (!parse_cidr(rule.cidr, address, bits))
          throw input_error("invalid CIDR '" + rule.cidr + "'", rule.where);
        std::string description = rule.protocol + " " + rule.cidr;
        for (std::size_t i = 0; i < rule.ports.size(); ++i)
          description += (i ? "," : " port ") + std::to_string(rule.ports[i]);
        const std::uint32_t id =
            add_info(policy, "network", description, rule.action, rule.labels, rule.where);
        ab_rule value{};
        value.rule_id = id;
        value.action = action(rule.action);
        value.dir_depth = static_cast<__u8>(bits);  // the CIDR's specificity (bits of 128)
        const __u32 protocol = rule.protocol == "tcp"   ? AB_PROTO_TCP
                               : rule.protocol == "udp" ? AB_PROTO_UDP
                                                        : 0;
        std::vector<int> ports = rule.ports.empty() ? std::vector<int>{0} : rule.ports;
        for (int port : ports) {
          ab_rule_key key = header_key(AB_KIND_NET_ADDR, static_cast<__u16>(port), protocol);
          std::memcpy(key.data, address, 16);
          key.prefixlen = AB_KEY_HEADER_BITS + static_cast<__u32>(bits);
          put(key, value);
        }
        set_.has_address_rules = true;
      }

      for (const CapabilityRule& rule : policy.capabilities) {
        const std::uint32_t id =
            add_info(policy, "capabilities", rule.capability, rule.action, rule.labels, rule.where);
        ab_rule value{};
        value.rule_id = id;
        value.action = action(rule.action);
        put(header_key(AB_KIND_CAPABILITY, 0, static_cast<__u32>(rule.number)), value);
        set_.has_capability_rules = true;
      }

      if (policy.memory) {
        const MemoryRule& rule = *policy.memory;
        std::string description = "memory of protected processes";
        if (!rule.allowed_executables.empty()) {
          description += " (allowed:";
          for (const auto& exe : rule.allowed_executables) description += " " + exe;
          description += ")";
        }
        const std::uint32_t id =
            add_info(policy, "memory", description, rule.action, rule.labels, rule.where);
        ab_rule value{};
        value.rule_id = id;
        value.action = action(rule.action);
        put(kind_default_key(AB_KIND_MEMORY), value);
        // Allowed readers must be allowed by every policy that protects memory.
        std::set<std::string> allowed(rule.allowed_executables.begin(),
                                      rule.allowed_executables.end());
        if (!memory_seen_) {
          memory_allowed_ = allowed;
        } else {
          std::set<std::string> both;
          std::set_intersection(memory_allowed_.begin(), memory_allowed_.end(), allowed.begin(),
                                allowed.end(), std::inserter(both, both.begin()));
          memory_allowed_ = both;
        }
        memory_seen_ = true;
        memory_rule_id_ = id;
        set_.has_memory_rules = true;
      }
    }
    for (const std::string& exe : memory_allowed_) {
      ab_rule allow{};
      allow.rule_id = memory_rule_id_;
      allow.action = AB_ACTION_ALLOW;
      put(path_key(AB_KIND_MEMORY, 0, exe, false), allow);
    }
    postures();
    install_gates();
    sources_first();
    depth_fallbacks();

    ab_rule generation{};
    generation.rule_id = set_.generation;
    // Path rules fail closed where the path cannot be trusted (common.bpf.h ab_fail_closed).
    if (set_.has_exec_rules || set_.has_file_rules) {
      RuleInfo fail_closed;
      fail_closed.id = static_cast<std::uint32_t>(set_.rules.size());
      fail_closed.category = "posture";
      fail_closed.description =
          "fail closed: a path the rules cannot judge (truncated, or resolved from another mount "
          "namespace or root than the container's)";
      fail_closed.action = options_.audit_only ? Action::kAudit : Action::kBlock;
      set_.rules.push_back(fail_closed);
      generation.fallback_action = action(Action::kBlock);
      generation.fallback_rule_id = fail_closed.id;
    }
    put(header_key(AB_KIND_GENERATION, 0, 0), generation);

    if (entries_.size() > kMaxEntries)
      throw input_error("the policies compile to " + std::to_string(entries_.size()) +
                        " map entries; the enforcer holds at most " + std::to_string(kMaxEntries));
    set_.entries = std::move(entries_);
  }

  RuleSet take() { return std::move(set_); }

 private:
  const CompileOptions& options_;
  RuleSet set_;
  std::vector<RuleEntry> entries_;
  std::map<KeyId, std::size_t> index_;
  struct Gate {
    ab_rule_key key{};
    ab_rule value{};
    std::vector<std::pair<std::string, ab_rule>> sources;
  };
  std::map<KeyId, Gate> gates_;
  bool allowlist_exec_ = false, allowlist_file_ = false, allowlist_protocols_ = false,
       allowlist_addresses_ = false, allowlist_capabilities_ = false;
  bool memory_seen_ = false;
  std::set<std::string> memory_allowed_;
  std::uint32_t memory_rule_id_ = 0;
};

}  // namespace

const RuleInfo& RuleSet::info(std::uint32_t id) const {
  return id < rules.size() ? rules[id] : rules.front();
}

RuleSet compile(const std::vector<Policy>& policies, const CompileOptions& options) {
  Compiler compiler(options);
  compiler.compile(policies);
  return compiler.take();
}

bool parse_cidr(const std::string& text, std::uint8_t address[16], int& prefix_bits) {
  const auto slash = text.find('/');
  const std::string host = text.substr(0, slash);
  std::memset(address, 0, 16);
  int max_bits = 0;
  int offset = 0;
  in_addr v4{};
  in6_addr v6{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    address[10] = 0xff;
    address[11] = 0xff;
    std::memcpy(address + 12, &v4, 4);
    max_bits = 32;
    offset = 96;
  } else if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    std::memcpy(address, &v6, 16);
    max_bits = 128;
  } else {
    return false;
  }
  int bits = max_bits;
  if (slash != std::string::npos) {
    const std::string suffix = text.substr(slash + 1);
    if (suffix.empty() || suffix.size() > 3 ||
        !std::all_of(suffix.begin(), suffix.end(), ::isdigit))
      return false;
    bits = std::stoi(suffix);
    if (bits > max_bits) return false;
  }
  prefix_bits = offset + bits;
  return true;
}

RuleSet compile_policy_files(const std::vector<std::filesystem::path>& files,
                             const PolicyFileOptions& options) {
  std::vector<Policy> policies;
  for (const std::filesystem::path& file : files)
    for (Policy& policy : load_policy_file(file.string())) policies.push_back(std::move(policy));
  CompileOptions compile_options;
  const Action posture =
      options.posture == DefaultPosture::kAudit ? Action::kAudit : Action::kBlock;
  compile_options.posture = Posture{posture, posture, posture};
  compile_options.audit_only = options.audit_only;
  compile_options.generation = options.generation;
  return compile(policies, compile_options);
}

}  // namespace armorbench::enforcer
