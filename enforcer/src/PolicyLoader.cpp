// Policy files into the Policy model: KubeArmorPolicy YAML (yaml-cpp, with marks for
// line:column) and the native TOML form (strict TomlTable). Anything the enforcer would silently
// ignore is refused instead, at the place it was written.
#include <arpa/inet.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <tuple>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include "armorbench/base/Hex.h"
#include "armorbench/base/InputText.h"
#include "armorbench/base/Sha256.h"
#include "armorbench/base/TomlTable.h"
#include "armorbench/enforcer/Policy.h"
#include "armorbench/enforcer/RuleSet.h"
#include "armorbench/enforcer/abi.h"

namespace armorbench::enforcer {
namespace {

constexpr std::size_t kMaxPath = AB_PATH_MAX - 1;
// A policy is a Kubernetes object, which the API server refuses beyond ~1.5 MB (etcd's request
// limit); the native form is held to the same.
constexpr std::uintmax_t kMaxPolicyBytes = 1 << 20;
// Nodes aliases may add to a policy document. Sharing a list a few times adds tens; a "billion
// laughs" document (aliases of aliases) adds billions from a few hundred bytes.
constexpr std::uint64_t kMaxAliasNodes = 10'000;

const std::map<std::string, int>& capability_table() {
  static const std::map<std::string, int> table{{"chown", 0},
                                                {"dac_override", 1},
                                                {"dac_read_search", 2},
                                                {"fowner", 3},
                                                {"fsetid", 4},
                                                {"kill", 5},
                                                {"setgid", 6},
                                                {"setuid", 7},
                                                {"setpcap", 8},
                                                {"linux_immutable", 9},
                                                {"net_bind_service", 10},
                                                {"net_broadcast", 11},
                                                {"net_admin", 12},
                                                {"net_raw", 13},
                                                {"ipc_lock", 14},
                                                {"ipc_owner", 15},
                                                {"sys_module", 16},
                                                {"sys_rawio", 17},
                                                {"sys_chroot", 18},
                                                {"sys_ptrace", 19},
                                                {"sys_pacct", 20},
                                                {"sys_admin", 21},
                                                {"sys_boot", 22},
                                                {"sys_nice", 23},
                                                {"sys_resource", 24},
                                                {"sys_time", 25},
                                                {"sys_tty_config", 26},
                                                {"mknod", 27},
                                                {"lease", 28},
                                                {"audit_write", 29},
                                                {"audit_control", 30},
                                                {"setfcap", 31},
                                                {"mac_override", 32},
                                                {"mac_admin", 33},
                                                {"syslog", 34},
                                                {"wake_alarm", 35},
                                                {"block_suspend", 36},
                                                {"audit_read", 37},
                                                {"perfmon", 38},
                                                {"bpf", 39},
                                                {"checkpoint_restore", 40}};
  return table;
}

std::optional<Action> parse_action(const std::string& text) {
  std::string lower = text;
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  if (lower == "allow") return Action::kAllow;
  if (lower == "audit") return Action::kAudit;
  if (lower == "block") return Action::kBlock;
  return std::nullopt;
}

// Checks a path or directory as written in a rule; returns an error message or "".
std::string check_path(const std::string& value, bool directory) {
  if (value.empty() || value.front() != '/') return "must be an absolute path";
  if (value.size() > kMaxPath)
    return "is longer than " + std::to_string(kMaxPath) + " bytes (the enforcer's path limit)";
  if (directory && value.back() != '/') return "is a directory and must end with '/'";
  if (!directory && value.back() == '/' && value != "/")
    return "ends with '/': use a directory rule (dir / matchDirectories)";
  return "";
}

// ---------------------------------------------------------------------------------------------
// YAML

// A YAML mapping read strictly: every key must be asked for, errors carry the node's mark.
class YamlMap {
 public:
  YamlMap(YAML::Node node, std::string file, std::string context)
      : node_(std::move(node)), file_(std::move(file)), context_(std::move(context)) {
    if (!node_.IsMap()) throw error(node_, "must be a mapping");
    // yaml-cpp keeps both of two equal keys and reads the first; Kubernetes refuses such a
    // document. Which of two actions was meant is not for the enforcer to guess.
    std::map<std::string, YAML::Mark> seen;
    for (auto it = node_.begin(); it != node_.end(); ++it) {
      if (!it->first.IsScalar()) continue;  // finish() names it
      const auto [first, inserted] = seen.emplace(it->first.Scalar(), it->first.Mark());
      if (!inserted)
        throw error(it->first, "field '" + it->first.Scalar() + "' is given twice (first at line " +
                                   std::to_string(first->second.line + 1) + ")");
    }
  }

  SourceLocation where(const YAML::Node& node) const {
    const YAML::Mark mark = node.Mark();
    return {file_, mark.line + 1, mark.column + 1};
  }
  SourceLocation where() const { return where(node_); }

  Error error(const YAML::Node& node, const std::string& message) const {
    return input_error(context_ + ": " + message, where(node));
  }
  Error error(const std::string& message) const { return error(node_, message); }

  std::optional<YAML::Node> get(const std::string& key) {
    asked_.insert(key);
    const YAML::Node value = node_[key];
    if (!value.IsDefined() || value.IsNull()) return std::nullopt;
    return value;
  }

  std::optional<std::string> string(const std::string& key) {
    auto value = get(key);
    if (!value) return std::nullopt;
    if (!value->IsScalar()) throw error(*value, "'" + key + "' must be a string");
    return value->as<std::string>();
  }

  std::optional<bool> boolean(const std::string& key) {
    auto value = get(key);
    if (!value) return std::nullopt;
    try {
      return value->as<bool>();
    } catch (const YAML::Exception&) {
      throw error(*value, "'" + key + "' must be true or false");
    }
  }

  std::optional<int> integer(const std::string& key, int min, int max) {
    auto value = get(key);
    if (!value) return std::nullopt;
    int number = 0;
    try {
      number = value->as<int>();
    } catch (const YAML::Exception&) {
      throw error(*value, "'" + key + "' must be an integer");
    }
    if (number < min || number > max)
      throw error(*value, "'" + key + "' must be in [" + std::to_string(min) + ", " +
                              std::to_string(max) + "]");
    return number;
  }

  std::vector<std::string> strings(const std::string& key) {
    std::vector<std::string> out;
    auto value = get(key);
    if (!value) return out;
    if (!value->IsSequence()) throw error(*value, "'" + key + "' must be a list of strings");
    for (const auto& element : *value) {
      if (!element.IsScalar())
        throw error(element, "every element of '" + key + "' must be a string");
      out.push_back(element.as<std::string>());
    }
    return out;
  }

  std::vector<YamlMap> maps(const std::string& key) {
    std::vector<YamlMap> out;
    auto value = get(key);
    if (!value) return out;
    if (!value->IsSequence()) throw error(*value, "'" + key + "' must be a list");
    int index = 0;
    for (const auto& element : *value)
      out.emplace_back(element, file_, context_ + "." + key + "[" + std::to_string(index++) + "]");
    return out;
  }

  std::optional<YamlMap> map(const std::string& key) {
    auto value = get(key);
    if (!value) return std::nullopt;
    return YamlMap(*value, file_, context_ + "." + key);
  }

  // Refuses a key the enforcer knows about but does not enforce, naming why.
  void refuse(const std::string& key, const std::string& why) {
    asked_.insert(key);
    const YAML::Node value = node_[key];
    if (value.IsDefined() && !value.IsNull() && !(value.IsScalar() && value.Scalar() == "false"))
      throw error(value, "'" + key + "' is not enforced by ArmorBench's enforcer: " + why);
  }

  void finish() const {
    std::vector<std::string> known(asked_.begin(), asked_.end());
    for (auto it = node_.begin(); it != node_.end(); ++it) {
      if (!it->first.IsScalar()) throw error(it->first, "a key must be a plain name");
      const std::string key = it->first.as<std::string>();
      if (asked_.count(key)) continue;
      std::string message = "unknown field '" + key + "'";
      const std::string suggestion = closest_match(key, known);
      if (!suggestion.empty()) message += "; did you mean '" + suggestion + "'?";
      throw error(it->first, message);
    }
  }

  const std::string& file() const { return file_; }

 private:
  YAML::Node node_;
  std::string file_;
  std::string context_;
  std::set<std::string> asked_;
};

// Severity, tags, message and action of a rule, falling back to its category's, then the spec's
// (KubeArmor's inheritance), then Block.
struct Inherited {
  std::optional<Action> action;
  RuleLabels labels;
  bool has_severity = false, has_tags = false, has_message = false;
};

Inherited read_labels(YamlMap& map, const Inherited& parent) {
  Inherited out = parent;
  if (auto severity = map.integer("severity", 1, 10))
    out.labels.severity = *severity, out.has_severity = true;
  if (auto tags = map.get("tags")) out.labels.tags = map.strings("tags"), out.has_tags = true;
  if (auto message = map.string("message")) out.labels.message = *message, out.has_message = true;
  if (auto action = map.string("action")) {
    auto parsed = parse_action(*action);
    if (!parsed) throw map.error(*map.get("action"), "action must be Allow, Audit or Block");
    out.action = parsed;
  }
  return out;
}

std::vector<std::string> read_sources(YamlMap& rule) {
  std::vector<std::string> sources;
  for (YamlMap& source : rule.maps("fromSource")) {
    auto path = source.string("path");
    source.refuse("dir", "fromSource matches source executables by exact path");
    source.refuse("recursive", "fromSource matches source executables by exact path");
    if (!path) throw source.error("fromSource needs 'path'");
    if (const std::string problem = check_path(*path, false); !problem.empty())
      throw source.error(*source.get("path"), "fromSource path '" + *path + "' " + problem);
    source.finish();
    sources.push_back(*path);
  }
  return sources;
}

void read_path_rules(YamlMap& category, const Inherited& inherited, bool file_category,
                     std::vector<PathRule>& out) {
  const Inherited category_labels = read_labels(category, inherited);
  category.refuse(
      "matchPatterns",
      "glob patterns are not matched in BPF (KubeArmor's BPF enforcer ignores them too);"
      " use matchPaths or matchDirectories");
  for (bool directories : {false, true}) {
    for (YamlMap& rule : category.maps(directories ? "matchDirectories" : "matchPaths")) {
      PathRule r;
      r.where = rule.where();
      auto value = rule.string(directories ? "dir" : "path");
      if (!value) throw rule.error(std::string("needs '") + (directories ? "dir" : "path") + "'");
      if (const std::string problem = check_path(*value, directories); !problem.empty())
        throw rule.error(*rule.get(directories ? "dir" : "path"), "'" + *value + "' " + problem);
      r.path = *value;
      r.is_directory = directories;
      if (directories) r.recursive = rule.boolean("recursive").value_or(false);
      if (file_category) r.read_only = rule.boolean("readOnly").value_or(false);
      rule.refuse("ownerOnly", "ownership of files is not checked");
      rule.refuse("pts", "terminal-attached execution is not tracked");
      if (!file_category) {
        rule.refuse("execname", "executables are matched by path; use 'path'");
        rule.refuse("allowedArgs", "arguments are not inspected");
      }
      r.from_source = read_sources(rule);
      const Inherited labels = read_labels(rule, category_labels);
      r.action = labels.action.value_or(Action::kBlock);
      r.labels = labels.labels;
      rule.finish();
      out.push_back(std::move(r));
    }
  }
  category.finish();
}

Policy read_kubearmor_policy(const YAML::Node& document, const std::string& file) {
  YamlMap top(document, file, "KubeArmorPolicy");
  Policy policy;
  policy.file = file;
  const auto api = top.string("apiVersion");
  if (api != "security.kubearmor.com/v1")
    throw top.error(top.get("apiVersion").value_or(document),
                    "apiVersion must be security.kubearmor.com/v1");
  const auto kind = top.string("kind");
  if (kind != "KubeArmorPolicy")
    throw top.error(top.get("kind").value_or(document),
                    "kind must be KubeArmorPolicy (host policies are not supported)");
  policy.kind = *kind;
  auto metadata = top.map("metadata");
  if (!metadata) throw top.error(document, "needs metadata.name");
  auto name = metadata->string("name");
  if (!name) throw metadata->error(document, "needs 'name'");
  policy.name = *name;
  metadata->get("namespace");
  metadata->get("labels");
  metadata->get("annotations");
  metadata->finish();

  auto spec = top.map("spec");
  if (!spec) throw top.error(document, "needs 'spec'");
  top.finish();
  // The selector picks pods in a cluster; here the harness (or the daemon's --cgroup) decides
  // which containers a policy applies to, so it is accepted and not interpreted.
  spec->get("selector");
  const Inherited spec_labels = read_labels(*spec, Inherited{});
  spec->refuse("syscalls", "syscall rules are audit-only in KubeArmor and not implemented here");
  spec->refuse("presets", "presets are not implemented");
  spec->refuse("apparmor", "raw AppArmor profiles are not applied by a BPF enforcer");

  if (auto process = spec->map("process"))
    read_path_rules(*process, spec_labels, false, policy.process);
  if (auto file_category = spec->map("file"))
    read_path_rules(*file_category, spec_labels, true, policy.file_rules);
  if (auto network = spec->map("network")) {
    const Inherited network_labels = read_labels(*network, spec_labels);
    network->refuse("matchDNSQueries", "DNS queries are not inspected");
    for (YamlMap& rule : network->maps("matchProtocols")) {
      ProtocolRule r;
      r.where = rule.where();
      auto protocol = rule.string("protocol");
      if (!protocol) throw rule.error("needs 'protocol'");
      std::string lower = *protocol;
      std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
      static const std::set<std::string> known{"tcp", "udp", "icmp", "icmpv6", "raw", "all"};
      if (!known.count(lower))
        throw rule.error(*rule.get("protocol"), "protocol '" + *protocol +
                                                    "' is not enforced (enforced: tcp, udp, icmp, "
                                                    "icmpv6, raw, all)");
      r.protocol = lower;
      rule.refuse("fromSource", "network rules apply to every executable of the container");
      rule.refuse("pts", "terminal-attached execution is not tracked");
      const Inherited labels = read_labels(rule, network_labels);
      r.action = labels.action.value_or(Action::kBlock);
      r.labels = labels.labels;
      rule.finish();
      policy.protocols.push_back(std::move(r));
    }
    network->finish();
  }
  if (auto capabilities = spec->map("capabilities")) {
    const Inherited cap_labels = read_labels(*capabilities, spec_labels);
    for (YamlMap& rule : capabilities->maps("matchCapabilities")) {
      CapabilityRule r;
      r.where = rule.where();
      auto capability = rule.string("capability");
      if (!capability) throw rule.error("needs 'capability'");
      std::string name = *capability;
      std::transform(name.begin(), name.end(), name.begin(), ::tolower);
      if (name.rfind("cap_", 0) == 0) name = name.substr(4);
      r.number = capability_number(name);
      if (r.number < 0)
        throw rule.error(*rule.get("capability"), "unknown capability '" + *capability + "'");
      r.capability = name;
      rule.refuse("fromSource", "capability rules apply to every executable of the container");
      const Inherited labels = read_labels(rule, cap_labels);
      r.action = labels.action.value_or(Action::kBlock);
      r.labels = labels.labels;
      rule.finish();
      policy.capabilities.push_back(std::move(r));
    }
    capabilities->finish();
  }
  spec->finish();
  return policy;
}

// yaml-cpp 0.7 (Debian 12's) can run without end on some malformed files (fuzz_kubearmor_policy
// found a 313-byte one: enforcer/tests/fuzz/regressions/fuzz_kubearmor_policy/yaml-cpp-hang), and
// a parser can exhaust the stack on deep nesting. So the file's bytes are parsed first in a child
// process with a wall-clock bound, and only bytes that child parsed to the end (or refused with a
// parse error) are parsed here: the same buffer, so nothing changes between the two. A policy
// parses in milliseconds.
constexpr unsigned kYamlParseSeconds = 3;

void parse_yaml_in_bounded_child(const std::string& path, const std::string& content) {
  // Content already checked is not checked again: scenarios load their policies at start,
  // single-threaded, so a later load while other threads run (a lane's enforcer) forks no child
  // that could inherit a lock another thread held.
  static std::mutex checked_mutex;
  static std::set<std::string> checked;  // SHA-256 of the content
  const std::string digest = to_hex(
      Sha256::digest({reinterpret_cast<const std::uint8_t*>(content.data()), content.size()}));
  {
    const std::lock_guard<std::mutex> lock(checked_mutex);
    if (checked.count(digest)) return;
  }
  const pid_t child = ::fork();
  if (child < 0)
    throw environment_error("fork, to parse " + path +
                            " in a bounded child: " + std::string(std::strerror(errno)));
  if (child == 0) {
    for (int signo : {SIGINT, SIGTERM, SIGHUP, SIGALRM}) ::signal(signo, SIG_DFL);
    sigset_t all;
    ::sigfillset(&all);
    ::sigprocmask(SIG_UNBLOCK, &all, nullptr);
    ::alarm(kYamlParseSeconds);
    try {
      (void)YAML::LoadAll(content);
    } catch (...) {
    }
    ::_exit(0);
  }
  int status = 0;
  pid_t waited = -1;
  while ((waited = ::waitpid(child, &status, 0)) < 0 && errno == EINTR) {
  }
  if (waited < 0)
    throw environment_error("waiting for the child that parses " + path + ": " +
                            std::string(std::strerror(errno)));
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    const bool timed_out = WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM;
    throw input_error(
        path + ": the YAML parser " +
        (timed_out             ? "did not finish within " + std::to_string(kYamlParseSeconds) + " s"
         : WIFSIGNALED(status) ? "crashed (signal " + std::to_string(WTERMSIG(status)) + ")"
                               : "crashed (exit " + std::to_string(WEXITSTATUS(status)) + ")") +
        " on this file; it is not a policy ArmorBench can read");
  }
  const std::lock_guard<std::mutex> lock(checked_mutex);
  checked.insert(digest);
}

// Counts, from the parser's events, the nodes each alias adds to the document (the size of the
// node it names, aliases inside that counted too) and refuses the document at the alias that
// takes the total past kMaxAliasNodes, and at an alias of a node that contains it (a cycle).
// yaml-cpp shares an aliased node rather than copying it, but every reader that walks the
// document walks the expansion.
class AliasBudget final : public YAML::EventHandler {
 public:
  explicit AliasBudget(std::string file) : file_(std::move(file)) {}

  void OnDocumentStart(const YAML::Mark&) override {
    sizes_.clear();  // anchors are numbered afresh in each document
    open_.clear();
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t anchor) override { leaf(anchor); }
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t anchor,
                const std::string&) override {
    leaf(anchor);
  }
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    open_.push_back({anchor, 1});
  }
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    open_.push_back({anchor, 1});
  }
  void OnSequenceEnd() override { close(); }
  void OnMapEnd() override { close(); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    const SourceLocation where{file_, mark.line + 1, mark.column + 1};
    const auto size = sizes_.find(anchor);
    if (size == sizes_.end())
      throw input_error("an alias inside the node it names: a cycle, which never ends", where);
    added_ = std::min(added_ + size->second, kMaxAliasNodes + 1);
    if (added_ > kMaxAliasNodes)
      throw input_error("aliases expand this document by more than " +
                            std::to_string(kMaxAliasNodes) +
                            " nodes (a \"billion laughs\" alias bomb); a policy's aliases may "
                            "add at most that many",
                        where);
    add(size->second);
  }

 private:
  struct Open {
    YAML::anchor_t anchor;
    std::uint64_t size;  // nodes inside, aliases expanded, itself included
  };

  void add(std::uint64_t nodes) {
    if (!open_.empty()) open_.back().size = std::min(open_.back().size + nodes, kSaturated);
  }
  void leaf(YAML::anchor_t anchor) {
    if (anchor) sizes_[anchor] = 1;
    add(1);
  }
  void close() {
    const Open done = open_.back();
    open_.pop_back();
    if (done.anchor) sizes_[done.anchor] = done.size;
    add(done.size);
  }

  static constexpr std::uint64_t kSaturated = std::uint64_t{1} << 62;
  std::string file_;
  std::vector<Open> open_;
  std::map<YAML::anchor_t, std::uint64_t> sizes_;  // complete anchored nodes only
  std::uint64_t added_ = 0;
};

std::vector<Policy> load_yaml(const std::string& path) {
  const std::string content = read_input_text(path, kMaxPolicyBytes, "policy file");
  parse_yaml_in_bounded_child(path, content);
  std::vector<YAML::Node> documents;
  try {
    std::istringstream stream(content);
    YAML::Parser parser(stream);
    AliasBudget budget(path);
    while (parser.HandleNextDocument(budget)) {
    }
    documents = YAML::LoadAll(content);
  } catch (const YAML::ParserException& e) {
    throw input_error("YAML syntax error: " + e.msg,
                      SourceLocation{path, e.mark.line + 1, e.mark.column + 1});
  }
  std::vector<Policy> policies;
  for (const YAML::Node& document : documents) {
    if (!document.IsDefined() || document.IsNull()) continue;
    try {
      policies.push_back(read_kubearmor_policy(document, path));
    } catch (const YAML::Exception& e) {
      // What no check above anticipated (a node of an unexpected shape) is still bad input,
      // at the place yaml-cpp names.
      throw input_error("YAML: " + e.msg, SourceLocation{path, e.mark.line + 1, e.mark.column + 1});
    }
  }
  if (policies.empty())
    throw input_error("policy file holds no policy", SourceLocation{path, 0, 0});
  return policies;
}

// ---------------------------------------------------------------------------------------------
// TOML (native)

RuleLabels toml_labels(TomlTable& table) {
  RuleLabels labels;
  if (auto severity = table.integer("severity", 1, 10))
    labels.severity = static_cast<int>(*severity);
  labels.tags = table.strings("tags").value_or(std::vector<std::string>{});
  labels.message = table.string("message").value_or("");
  return labels;
}

Action toml_action(TomlTable& table) {
  const auto action = table.choice("action", {"Allow", "Audit", "Block"});
  return action ? *parse_action(*action) : Action::kBlock;
}

std::vector<PathRule> toml_path_rules(TomlTable& top, const char* key, bool file_category) {
  std::vector<PathRule> rules;
  for (TomlTable& table : top.tables(key)) {
    PathRule r;
    r.where = table.location();
    auto path = table.string("path");
    auto dir = table.string("dir");
    if (path.has_value() == dir.has_value())
      throw table.error_at("", "a rule names exactly one of 'path' or 'dir'");
    r.is_directory = dir.has_value();
    r.path = r.is_directory ? *dir : *path;
    if (const std::string problem = check_path(r.path, r.is_directory); !problem.empty())
      throw table.error_at(r.is_directory ? "dir" : "path", "'" + r.path + "' " + problem);
    if (r.is_directory) r.recursive = table.boolean("recursive").value_or(false);
    if (file_category) r.read_only = table.boolean("read_only").value_or(false);
    r.from_source = table.strings("from_source").value_or(std::vector<std::string>{});
    for (const std::string& source : r.from_source)
      if (const std::string problem = check_path(source, false); !problem.empty())
        throw table.error_at("from_source", "'" + source + "' " + problem);
    r.action = toml_action(table);
    r.labels = toml_labels(table);
    table.finish();
    rules.push_back(std::move(r));
  }
  return rules;
}

std::vector<Policy> load_toml(const std::string& path) {
  const toml::table root = parse_toml_file(path, kMaxPolicyBytes, "policy file");
  TomlTable top(root, std::make_shared<const std::string>(path), "");
  Policy policy;
  policy.file = path;
  policy.kind = "ArmorBenchPolicy";
  auto header = top.table("policy");
  if (!header) throw top.error_at("", "missing [policy] table (with name = \"...\")");
  policy.name = header->required_string("name");
  header->finish();
  policy.process = toml_path_rules(top, "process", false);
  policy.file_rules = toml_path_rules(top, "file", true);
  for (TomlTable& table : top.tables("protocol")) {
    ProtocolRule r;
    r.where = table.location();
    const auto protocol = table.choice("protocol", {"tcp", "udp", "icmp", "icmpv6", "raw", "all"});
    if (!protocol) throw table.error_at("", "needs 'protocol'");
    r.protocol = *protocol;
    r.action = toml_action(table);
    r.labels = toml_labels(table);
    table.finish();
    policy.protocols.push_back(std::move(r));
  }
  for (TomlTable& table : top.tables("network")) {
    AddressRule r;
    r.where = table.location();
    r.protocol = table.choice("protocol", {"tcp", "udp", "any"}).value_or("any");
    r.cidr = table.string("cidr").value_or("");
    if (r.cidr.empty()) throw table.error_at("", "needs 'cidr' (e.g. \"0.0.0.0/0\" for any IPv4)");
    std::uint8_t address[16];
    int bits = 0;
    if (!parse_cidr(r.cidr, address, bits))
      throw table.error_at("cidr", "invalid CIDR '" + r.cidr + "'");
    if (auto ports = table.integers("ports", 1, 65535)) r.ports = *ports;
    r.action = toml_action(table);
    r.labels = toml_labels(table);
    table.finish();
    policy.addresses.push_back(std::move(r));
  }
  for (TomlTable& table : top.tables("capability")) {
    CapabilityRule r;
    r.where = table.location();
    r.capability = table.required_string("name");
    r.number = capability_number(r.capability);
    if (r.number < 0) throw table.error_at("name", "unknown capability '" + r.capability + "'");
    r.action = toml_action(table);
    r.labels = toml_labels(table);
    table.finish();
    policy.capabilities.push_back(std::move(r));
  }
  if (auto memory = top.table("memory")) {
    MemoryRule r;
    r.where = memory->location();
    r.action = toml_action(*memory);
    r.allowed_executables = memory->strings("allow").value_or(std::vector<std::string>{});
    for (const std::string& exe : r.allowed_executables)
      if (const std::string problem = check_path(exe, false); !problem.empty())
        throw memory->error_at("allow", "'" + exe + "' " + problem);
    r.labels = toml_labels(*memory);
    memory->finish();
    policy.memory = r;
  }
  top.finish();
  return {policy};
}

}  // namespace

std::string to_string(Action action) {
  switch (action) {
    case Action::kAllow:
      return "Allow";
    case Action::kAudit:
      return "Audit";
    case Action::kBlock:
      return "Block";
  }
  return "?";
}

int capability_number(const std::string& name) {
  const auto& table = capability_table();
  const auto it = table.find(name);
  return it == table.end() ? -1 : it->second;
}

std::vector<Policy> load_policy_file(const std::string& path) {
  // Whether it exists and is a regular UTF-8 file of a policy's size: each loader reads it with
  // read_input_text, which says which of these it is not.
  const std::string extension = std::filesystem::path(path).extension();
  if (extension == ".yaml" || extension == ".yml") return load_yaml(path);
  if (extension == ".toml") return load_toml(path);
  throw input_error("policy file " + path +
                    ": unknown format (use .yaml for KubeArmorPolicy or "
                    ".toml for the native form)");
}

}  // namespace armorbench::enforcer
