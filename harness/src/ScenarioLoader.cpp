// Parsing and semantic validation of scenario files.
#include "armorbench/harness/ScenarioLoader.h"

#include <algorithm>
#include <regex>
#include <set>

#include "armorbench/base/TomlTable.h"
#include "armorbench/enforcer/RuleSet.h"

namespace armorbench {
namespace fs = std::filesystem;
namespace {

constexpr int kMaxRequests = 100'000;

bool valid_name(const std::string& name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

std::string checked_name(TomlTable& table) {
  const std::string name = table.required_string("name");
  if (!valid_name(name))
    throw table.error_at("name", "name '" + name + "' may only use letters, digits, '.', '_', '-'");
  return name;
}

// Resolves a path written in a scenario relative to the scenario's directory.
fs::path resolve(const fs::path& scenario_file, const std::string& written) {
  const fs::path p(written);
  return p.is_absolute() ? p : (scenario_file.parent_path() / p).lexically_normal();
}

fs::path existing_regular_file(TomlTable& table, std::string_view key, const fs::path& file,
                               const std::string& written) {
  const fs::path resolved = resolve(file, written);
  std::error_code ec;
  const auto status = fs::status(resolved, ec);
  if (ec || !fs::exists(status))
    throw table.error_at(
        key, "file '" + written + "' does not exist (resolved to " + resolved.string() + ")");
  if (!fs::is_regular_file(status))
    throw table.error_at(key, "'" + written + "' is not a regular file");
  return resolved;
}

ResourceLimits parse_limits(TomlTable& table) {
  ResourceLimits limits;
  limits.cpus = table.number("cpus", 0.01, 1024);
  limits.memory_bytes = table.size("memory");
  if (limits.memory_bytes && *limits.memory_bytes < (16u << 20))
    throw table.error_at("memory", "memory limit below 16MiB cannot run a model server");
  limits.pids = table.integer("pids", 8, 1'000'000);
  table.finish();
  return limits;
}

TargetSpec parse_target(TomlTable& table, const fs::path& file) {
  TargetSpec target;
  target.where = table.location();
  target.name = checked_name(table);
  const std::string kind = table.choice("kind", {"runc", "crun", "kata", "cvm"}).value_or("");
  if (kind.empty()) throw table.error_at("", "missing required key 'kind' (runc, crun, kata, cvm)");
  target.kind = kind == "runc"   ? TargetKind::kRunc
                : kind == "crun" ? TargetKind::kCrun
                : kind == "kata" ? TargetKind::kKata
                                 : TargetKind::kCvm;
  if (auto rootfs = table.string("rootfs")) {
    if (*rootfs != "host") {
      const fs::path dir = resolve(file, *rootfs);
      if (!fs::is_directory(dir))
        throw table.error_at("rootfs", "rootfs must be \"host\" or an existing directory; '" +
                                           *rootfs + "' is neither");
      target.rootfs = dir.string();
    }
  }
  if (auto network = table.choice("network", {"host", "none"}))
    target.network = *network == "host" ? NetworkMode::kHost : NetworkMode::kNone;
  if (auto limits = table.table("limits")) target.limits = parse_limits(*limits);
  if (auto seccomp = table.string("seccomp")) {
    if (*seccomp == "unconfined") {
      target.seccomp.mode = SeccompSpec::Mode::kUnconfined;
    } else if (*seccomp == "runtime-default") {
      target.seccomp.mode = SeccompSpec::Mode::kRuntimeDefault;
    } else {
      target.seccomp.mode = SeccompSpec::Mode::kProfile;
      target.seccomp.profile = resolve(file, *seccomp);
      try {
        seccomp_profile(target.seccomp, true);
      } catch (const Error& e) {
        throw table.error_at("seccomp", e.what());
      }
    }
  }
  if (auto capabilities = table.strings("capabilities")) {
    static const std::regex kCapability("CAP_[A-Z_]+");
    for (const std::string& cap : *capabilities)
      if (!std::regex_match(cap, kCapability))
        throw table.error_at("capabilities", "'" + cap + "' is not a capability name (CAP_...)");
    target.capabilities = *capabilities;
  }
  target.reference = table.string("reference").value_or("");
  target.reference_only = table.boolean("reference_only").value_or(false);
  target.optional = table.boolean("optional").value_or(false);

  const bool is_vm = target.kind == TargetKind::kKata || target.kind == TargetKind::kCvm;
  if (is_vm &&
      (target.seccomp.mode != SeccompSpec::Mode::kUnconfined || !target.capabilities.empty()))
    throw table.error_at(target.capabilities.empty() ? "seccomp" : "capabilities",
                         "seccomp and capabilities configure a container runtime (runc, crun); "
                         "a VM target's guest has its own");
  if (is_vm) {
    if (auto memory = table.size("memory")) target.vm.memory_mib = *memory >> 20;
    if (target.vm.memory_mib < 256)
      throw table.error_at("memory", "a guest needs at least 256MiB to run the model server");
    if (auto vcpus = table.integer("vcpus", 1, 64)) target.vm.vcpus = static_cast<int>(*vcpus);
    if (auto accel = table.choice("accel", {"auto", "kvm", "tcg"})) target.vm.accel = *accel;
    if (auto boot = table.duration("boot_timeout")) target.vm.boot_timeout = *boot;
    if (target.kind == TargetKind::kCvm) {
      auto security = table.choice("launch_security", {"sev", "sev-snp", "tdx"});
      if (!security)
        throw table.error_at(
            "", "a cvm target needs launch_security = \"sev-snp\", \"tdx\" or \"sev\"");
      target.vm.launch_security = *security;
    }
  }
  table.finish();
  return target;
}

bool is_container(const TargetSpec& t) {
  return t.kind == TargetKind::kRunc || t.kind == TargetKind::kCrun;
}

// Gives every VM target a reference for its isolation verdicts: the declared one, else the
// nearest weaker isolation in the scenario (a confidential VM: a micro-VM; a micro-VM: a
// container), else an implicit plain runc container that runs only positive controls.
void resolve_references(Scenario& scenario, const TomlTable& top) {
  const auto find = [&](auto&& pred) -> const TargetSpec* {
    for (const TargetSpec& t : scenario.targets)
      if (pred(t)) return &t;
    return nullptr;
  };
  bool need_implicit = false;
  for (TargetSpec& t : scenario.targets) {
    if (!t.reference.empty()) {
      const TargetSpec* ref = find([&](const TargetSpec& r) { return r.name == t.reference; });
      if (!ref || ref->name == t.name)
        throw input_error("target '" + t.name + "': reference '" + t.reference +
                              "' must name another target of the scenario",
                          t.where);
      continue;
    }
    if (is_container(t)) continue;
    const TargetSpec* ref = nullptr;
    if (t.kind == TargetKind::kCvm)
      ref = find([](const TargetSpec& r) { return r.kind == TargetKind::kKata; });
    if (!ref) ref = find(is_container);
    if (ref) {
      t.reference = ref->name;
    } else {
      t.reference = kImplicitReference;
      need_implicit = true;
    }
  }
  if (need_implicit) {
    if (find([](const TargetSpec& r) { return r.name == kImplicitReference; }))
      throw top.error_at("", std::string("target name '") + kImplicitReference +
                                 "' is reserved for the implicit reference target");
    TargetSpec implicit;
    implicit.name = kImplicitReference;
    implicit.kind = TargetKind::kRunc;
    implicit.reference_only = true;
    implicit.optional = true;  // a method it lacks (core_dump) leaves it not-run: evidence only
    implicit.where = top.location();
    scenario.targets.insert(scenario.targets.begin(), implicit);
  }
  // References form chains (cvm -> kata -> runc), never cycles.
  for (const TargetSpec& t : scenario.targets) {
    const TargetSpec* at = &t;
    for (std::size_t hops = 0; at && !at->reference.empty(); ++hops) {
      if (hops > scenario.targets.size())
        throw input_error("target '" + t.name + "': its references form a cycle", t.where);
      at = reference_of(scenario, *at);
    }
  }
}

EnforcerMode mode_from(const TomlTable& table, std::string_view key, const std::string& text) {
  if (auto mode = enforcer_mode_from_string(text)) return *mode;
  throw table.error_at(key, "unknown enforcer mode '" + text + "' (valid: off, audit, block)");
}

EnforcerSpec parse_enforcer(TomlTable& table, const fs::path& file) {
  EnforcerSpec spec;
  spec.where = table.location();
  if (auto policies = table.strings("policies"))
    for (const auto& policy : *policies)
      spec.policies.push_back(existing_regular_file(table, "policies", file, policy));
  if (auto modes = table.strings("modes")) {
    if (modes->empty()) throw table.error_at("modes", "modes must name at least one mode");
    spec.modes.clear();
    for (const auto& text : *modes) {
      const EnforcerMode mode = mode_from(table, "modes", text);
      if (std::find(spec.modes.begin(), spec.modes.end(), mode) != spec.modes.end())
        throw table.error_at("modes", "mode '" + text + "' is listed twice");
      spec.modes.push_back(mode);
    }
  }
  if (auto backend = table.choice("backend", {"auto", "tracepoint", "bpf-lsm"}))
    spec.backend = *backend_from_string(*backend);
  if (auto posture = table.choice("default_posture", {"block", "audit"}))
    spec.default_posture = *default_posture_from_string(*posture);
  const bool enforcing = std::any_of(spec.modes.begin(), spec.modes.end(),
                                     [](EnforcerMode m) { return m != EnforcerMode::kOff; });
  if (enforcing && spec.policies.empty())
    throw table.error_at("modes", "modes audit and block need at least one file in 'policies'");
  table.finish();
  return spec;
}

TensorSpec parse_tensor(TomlTable& table) {
  TensorSpec tensor;
  tensor.name = table.required_string("name");
  tensor.datatype = table
                        .choice("datatype", {"FP32", "FP64", "FP16", "INT64", "INT32", "INT16",
                                             "INT8", "UINT8", "BOOL"})
                        .value_or("");
  if (tensor.datatype.empty()) throw table.error_at("", "an input needs 'datatype'");
  const auto shape = table.integers("shape", -1, 1 << 20);
  if (!shape || shape->empty())
    throw table.error_at("shape", "an input needs 'shape', e.g. [-1, 4] (-1: any size)");
  std::size_t count = 1;
  for (int size : *shape) {
    if (size == 0) throw table.error_at("shape", "a size is positive, or -1 for any size");
    count *= static_cast<std::size_t>(size < 0 ? 1 : size);
  }
  if (count > (1u << 20))
    throw table.error_at("shape", "a request of this shape holds over 2^20 values");
  tensor.shape.assign(shape->begin(), shape->end());
  if (table.has("range")) {
    const auto range = table.numbers("range");
    if (!range || range->size() != 2 || !((*range)[0] < (*range)[1]))
      throw table.error_at("range", "range is [min, max] with min < max");
    tensor.range = std::make_pair((*range)[0], (*range)[1]);
  }
  table.finish();
  return tensor;
}

DeclaredModel parse_declared(TomlTable& table, const fs::path& file, const fs::path& model_file,
                             const std::string& format) {
  DeclaredModel model;
  model.file = model_file;
  model.format = format;
  model.name = table.string("name").value_or("user-model");
  if (model.name.empty() || model.name.find_first_of("/ ?#%") != std::string::npos)
    throw table.error_at("name", "a model name is one URL path segment");
  if (auto tolerance = table.number("tolerance", 0, 1)) model.tolerance = *tolerance;
  for (TomlTable& input : table.tables("inputs")) model.inputs.push_back(parse_tensor(input));
  if (model.inputs.empty())
    throw table.error_at("", "a model file declares its 'inputs' = [{ name, datatype, shape }]");
  for (TomlTable& output : table.tables("outputs")) {
    model.outputs.push_back(output.required_string("name"));
    output.finish();
  }
  if (auto sources = table.strings("sources"))
    for (const std::string& source : *sources) {
      model.sources.push_back(existing_regular_file(table, "sources", file, source));
      if (model.sources.back().extension() != ".py")
        throw table.error_at("sources", "sources are the Python files the model imports (.py)");
    }
  const bool needs_architecture = format == "state_dict" || format == "safetensors";
  if (auto architecture = table.table("architecture")) {
    if (!needs_architecture)
      throw table.error_at("architecture", "a " + format + " file carries its own architecture");
    model.architecture_file =
        existing_regular_file(*architecture, "file", file, architecture->required_string("file"));
    if (model.architecture_file->extension() != ".py")
      throw architecture->error_at("file", "the architecture is a Python source file (.py)");
    model.architecture_class = architecture->required_string("class");
    if (architecture->has("kwargs")) model.architecture_kwargs = architecture->json_value("kwargs");
    architecture->finish();
  } else if (needs_architecture) {
    throw table.error_at("", "a " + format +
                                 " file needs its 'architecture' = { file = \"net.py\", "
                                 "class = \"Net\", kwargs = { ... } }");
  }
  return model;
}

ModelSpec parse_model(TomlTable& table, const fs::path& file) {
  ModelSpec model;
  model.where = table.location();
  auto generator = table.choice("generator", {"mlp"});
  auto written = table.string("file");
  if (generator && written)
    throw table.error_at("file", "a model is either generated ('generator') or a file, not both");
  if (written) {
    model.file = existing_regular_file(table, "file", file, *written);
    model.generator.clear();
  }
  if (auto layers = table.integers("layers", 1, 16384)) {
    if (layers->size() < 2)
      throw table.error_at("layers", "layers needs at least an input and an output size");
    if (written) throw table.error_at("layers", "'layers' applies to generated models only");
    model.layers.assign(layers->begin(), layers->end());
  }
  if (auto format =
          table.choice("format", {"module", "torchscript", "state_dict", "safetensors"})) {
    if (!written) throw table.error_at("format", "'format' describes a model 'file'");
    model.declared = parse_declared(table, file, *model.file, *format);
  }
  table.finish();
  return model;
}

std::map<EnforcerMode, Verdict> parse_expect(TomlTable& table) {
  std::map<EnforcerMode, Verdict> expect;
  for (const char* key : {"off", "audit", "block"}) {
    auto text = table.choice(key, {"allowed", "disrupted", "blocked", "detected", "reached",
                                   "prevented", "invalid", "not-run"});
    if (text) expect[mode_from(table, key, key)] = *verdict_from_string(*text);
  }
  table.finish();
  return expect;
}

// A [timeouts] table: the steps it names over `limits`.
StepLimits parse_timeouts(TomlTable& table, StepLimits limits) {
  const std::pair<const char*, std::chrono::milliseconds StepLimits::*> steps[] = {
      {"create", &StepLimits::create},       {"enforcer_load", &StepLimits::enforcer_load},
      {"ready", &StepLimits::ready},         {"request", &StepLimits::request},
      {"objective", &StepLimits::objective}, {"teardown", &StepLimits::teardown}};
  for (const auto& [key, member] : steps)
    if (auto limit = table.duration(key)) {
      if (limit->count() <= 0) throw table.error_at(key, std::string(key) + " must be positive");
      if (*limit > std::chrono::hours(24))
        throw table.error_at(key, std::string(key) + " must be at most 24h");
      limits.*member = *limit;
    }
  table.finish();
  return limits;
}

CaseSpec parse_case(TomlTable& table, const fs::path& file, const std::vector<TargetSpec>& targets,
                    const StepLimits& timeouts) {
  CaseSpec c;
  c.timeouts = timeouts;
  c.where = table.location();
  c.name = checked_name(table);
  c.description = table.string("description").value_or("");
  if (auto model = table.table("model")) c.model = parse_model(*model, file);
  if (auto loader =
          table.choice("loader", {"torch", "torch-weights-only", "safetensors", "pickle"}))
    c.loader = *loader == "torch"                ? Loader::kTorch
               : *loader == "torch-weights-only" ? Loader::kTorchWeightsOnly
               : *loader == "safetensors"        ? Loader::kSafetensors
                                                 : Loader::kPickle;
  if (auto attack = table.table("attack"))
    c.attack = attacks::parse_attack(*attack, {file, c.model.file, c.loader});
  if (auto requests = table.integer("requests", 1, kMaxRequests))
    c.requests = static_cast<int>(*requests);
  if (auto warmup = table.integer("warmup", 0, kMaxRequests)) c.warmup = static_cast<int>(*warmup);
  if (auto own = table.table("timeouts")) {
    if (table.has("timeout") && own->has("ready"))
      throw table.error_at("timeout", "give the ready limit once: 'timeout' or timeouts.ready");
    c.timeouts = parse_timeouts(*own, c.timeouts);
  }
  // `timeout` is the ready limit's older name.
  if (auto timeout = table.duration("timeout")) {
    if (timeout->count() <= 0) throw table.error_at("timeout", "timeout must be positive");
    if (*timeout > std::chrono::hours(24))
      throw table.error_at("timeout", "timeout must be at most 24h");
    c.timeouts.ready = *timeout;
  }
  if (auto settle = table.duration("settle")) c.settle = *settle;
  if (c.settle >= c.timeouts.objective)
    throw table.error_at(table.has("settle") ? "settle" : "",
                         "settle (" + std::to_string(c.settle.count()) +
                             " ms) must be shorter than the objective step's limit (" +
                             std::to_string(c.timeouts.objective.count()) + " ms)");
  if (auto requires_features = table.strings("requires")) {
    for (const auto& feature : *requires_features) {
      const auto& known = known_features();
      if (std::find(known.begin(), known.end(), feature) == known.end()) {
        std::string message = "unknown feature '" + feature + "' in requires";
        const std::string suggestion = closest_match(feature, known);
        if (!suggestion.empty()) message += "; did you mean '" + suggestion + "'?";
        throw table.error_at("requires", message);
      }
    }
    c.requires_features = *requires_features;
  }
  if (auto expect = table.table("expect")) c.expect = parse_expect(*expect);
  if (auto expect_on = table.table("expect_on")) {
    for (const TargetSpec& t : targets)
      if (auto per_target = expect_on->table(t.name))
        c.expect_on[t.name] = parse_expect(*per_target);
    expect_on->finish();  // a key that names no target: did-you-mean among the targets
  }

  if (c.model.file && !c.model.declared && !c.attack)
    throw table.error_at("model",
                         "a model file of your own is served as declared: give its "
                         "'format' (module, torchscript, state_dict, safetensors) and "
                         "'inputs' (a custom attack's file may instead stand in for the "
                         "generated MLP's weights)");
  if (c.model.file && c.loader == Loader::kSafetensors &&
      c.model.file->extension() != ".safetensors")
    throw table.error_at("loader", "loader 'safetensors' needs a .safetensors model file");
  table.finish();
  return c;
}

GateSpec parse_gate(TomlTable& table) {
  GateSpec gate;
  gate.where = table.location();
  gate.min_block_rate = table.number("min_block_rate", 0, 1);
  gate.min_detection_rate = table.number("min_detection_rate", 0, 1);
  gate.max_false_positive_rate = table.number("max_false_positive_rate", 0, 1);
  gate.max_invalid = table.integer("max_invalid", 0, 1'000'000);
  gate.max_overhead_p50 = table.number("max_overhead_p50", 0, 1000);
  gate.max_overhead_p99 = table.number("max_overhead_p99", 0, 1000);
  if (auto on = table.choice("on_inconclusive", {"fail", "pass"}))
    gate.fail_inconclusive = *on == "fail";
  gate.require_backend = table.choice("require_backend", {"tracepoint", "bpf-lsm"});
  table.finish();
  return gate;
}

}  // namespace

GateSpec with_gate_overrides(GateSpec gate, const std::vector<std::string>& overrides) {
  if (overrides.empty()) return gate;
  // KEY=VALUE as a TOML table, so each value is checked exactly as in a scenario's [gate].
  std::string text;
  for (const std::string& o : overrides) {
    const auto eq = o.find('=');
    if (eq == std::string::npos || eq == 0)
      throw input_error("--gate " + o + ": expected KEY=VALUE (e.g. max_overhead_p50=1.05)");
    std::string value = o.substr(eq + 1);
    const bool bare =
        !value.empty() && (value == "true" || value == "false" ||
                           value.find_first_not_of("0123456789.eE+-") == std::string::npos);
    if (!bare) value = "\"" + value + "\"";
    text += o.substr(0, eq) + " = " + value + "\n";
  }
  const std::string source = "--gate";
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    throw input_error("--gate: " + std::string(e.description()));
  }
  TomlTable table(root, std::make_shared<const std::string>(source), "");
  const GateSpec o = parse_gate(table);
  if (o.min_block_rate) gate.min_block_rate = o.min_block_rate;
  if (o.min_detection_rate) gate.min_detection_rate = o.min_detection_rate;
  if (o.max_false_positive_rate) gate.max_false_positive_rate = o.max_false_positive_rate;
  if (o.max_invalid) gate.max_invalid = o.max_invalid;
  if (o.max_overhead_p50) gate.max_overhead_p50 = o.max_overhead_p50;
  if (o.max_overhead_p99) gate.max_overhead_p99 = o.max_overhead_p99;
  if (o.require_backend) gate.require_backend = o.require_backend;
  for (const std::string& line : overrides)
    if (line.rfind("on_inconclusive=", 0) == 0) gate.fail_inconclusive = o.fail_inconclusive;
  return gate;
}

const std::vector<std::string>& known_features() {
  static const std::vector<std::string> features{"root",    "runc", "crun", "bpf",     "bpf-lsm",
                                                 "libvirt", "kvm",  "sev",  "sev-snp", "tdx"};
  return features;
}

Scenario load_scenario(const fs::path& file) {
  const toml::table root = parse_toml_file(file.string());
  auto file_name = std::make_shared<const std::string>(file.string());
  TomlTable top(root, file_name, "");

  Scenario scenario;
  scenario.file = file;
  auto header = top.table("scenario");
  if (!header) throw top.error_at("", "missing [scenario] table (with at least name = \"...\")");
  scenario.name = checked_name(*header);
  scenario.description = header->string("description").value_or("");
  scenario.controls = header->strings("controls").value_or(std::vector<std::string>{});
  header->finish();

  std::set<std::string> seen;
  for (TomlTable& table : top.tables("target")) {
    TargetSpec target = parse_target(table, file);
    if (!seen.insert(target.name).second)
      throw table.error_at("name", "target name '" + target.name + "' is used twice");
    scenario.targets.push_back(std::move(target));
  }
  if (scenario.targets.empty()) throw top.error_at("", "a scenario needs at least one [[target]]");
  resolve_references(scenario, top);

  if (auto enforcer = top.table("enforcer")) scenario.enforcer = parse_enforcer(*enforcer, file);
  // The policies compile here, as the enforcer will compile them: a broken policy is an input
  // error at its own file:line:column before anything runs (validate, list and run alike).
  if (!scenario.enforcer.policies.empty())
    enforcer::compile_policy_files(
        scenario.enforcer.policies,
        enforcer::PolicyFileOptions{false, scenario.enforcer.default_posture, 1});

  if (auto timeouts = top.table("timeouts"))
    scenario.timeouts = parse_timeouts(*timeouts, scenario.timeouts);

  seen.clear();
  for (TomlTable& table : top.tables("case")) {
    CaseSpec c = parse_case(table, file, scenario.targets, scenario.timeouts);
    if (!seen.insert(c.name).second)
      throw table.error_at("name", "case name '" + c.name + "' is used twice");
    scenario.cases.push_back(std::move(c));
  }
  if (scenario.cases.empty()) throw top.error_at("", "a scenario needs at least one [[case]]");

  if (auto gate = top.table("gate")) scenario.gate = parse_gate(*gate);
  top.finish();

  // Resource attacks are measured against the target's own limits: there must be one.
  for (const CaseSpec& c : scenario.cases) {
    const auto limit = c.attack ? c.attack->required_limit() : std::nullopt;
    if (!limit) continue;
    for (const TargetSpec& t : scenario.targets) {
      if (t.reference_only) continue;  // runs only positive controls, without that limit
      const bool missing =
          (*limit == "pids" && !t.limits.pids) || (*limit == "memory" && !t.limits.memory_bytes);
      if (missing)
        throw input_error("case '" + c.name + "': target '" + t.name + "' sets no " + *limit +
                              " limit for the " + c.attack->kind() + " to exceed (limits = { " +
                              *limit + " = ... })",
                          c.attack->where);
    }
  }
  return scenario;
}

std::vector<Scenario> load_scenarios(const std::vector<std::string>& paths) {
  std::vector<fs::path> files;
  for (const std::string& written : paths) {
    std::error_code ec;
    const fs::path path(written);
    if (fs::is_directory(path, ec)) {
      std::vector<fs::path> found;
      for (const auto& entry : fs::directory_iterator(path))
        if (entry.is_regular_file() && entry.path().extension() == ".toml")
          found.push_back(entry.path());
      std::sort(found.begin(), found.end());
      if (found.empty()) throw input_error("no *.toml scenario files in directory " + written);
      files.insert(files.end(), found.begin(), found.end());
    } else if (fs::exists(path, ec)) {
      files.push_back(path);
    } else {
      throw input_error("scenario path '" + written + "' does not exist");
    }
  }
  std::vector<Scenario> scenarios;
  std::set<std::string> names;
  for (const fs::path& file : files) {
    Scenario scenario = load_scenario(file);
    if (!names.insert(scenario.name).second)
      throw input_error("scenario name '" + scenario.name + "' is used by two files",
                        SourceLocation{file.string(), 0, 0});
    scenarios.push_back(std::move(scenario));
  }
  return scenarios;
}

}  // namespace armorbench
