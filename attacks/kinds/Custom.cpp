// custom: bring your own model file with the objective its author declares. Keys: objective = {
// type = file_created (path, contains) | connect (host, port, contains) | exec (path) |
// canary_found (canary, method) | secret_in_response (path) }. A secret_in_response objective
// plants a secret at `path` (under /tmp or /run), fresh for each case of each harness run and the
// same in its off, audit and block runs (a model whose outputs carry it then answers alike, and
// its service is judged against the off run's answers), and is reached when the harness, as a
// client, finds it in an inference response. A connect objective's listener binds the declared host
// (an address of this host: the sandbox shares it on host networking, a VM guest reaches 127.0.0.1
// as 10.0.2.2) and counts only a connection that carries `contains`. The case's model.file is what
// the sandbox loads, under its own name.
#include <arpa/inet.h>

#include "KindSupport.h"
#include "armorbench/attacks/Objectives.h"

namespace armorbench::attacks {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

struct CustomObjectiveSpec {
  std::string type;
  std::string path;      // file_created, exec
  std::string contains;  // file_created, connect
  std::string host;      // connect
  int port = 0;          // connect
  std::string canary;    // canary_found ("" = the model's canary)
  std::string method;    // canary_found
};

// A fresh value for a secret_in_response objective to plant (the model file, written before, cannot
// know it).
std::string fresh_secret() {
  return "armorbench-secret-" + random_hex(24);
}

// The objective piece the declaration names, made fresh for each run.
std::unique_ptr<Objective> make_objective(const CustomObjectiveSpec& spec,
                                          const AttackContext& context, const std::string& secret) {
  if (spec.type == "secret_in_response")
    return std::make_unique<ResponseLeakObjective>(spec.path, secret, "the planted secret leaked",
                                                   std::string("armorbench-secret-").size());
  if (spec.type == "file_created")
    return std::make_unique<MarkerObjective>(spec.path, spec.contains, "the declared file");
  if (spec.type == "connect")
    return std::make_unique<BeaconObjective>(
        spec.host, static_cast<std::uint16_t>(spec.port), spec.contains,
        "a connection to " + spec.host + ":" + std::to_string(spec.port));
  if (spec.type == "exec") return std::make_unique<ExecObjective>(spec.path);
  if (spec.type == "canary_found")
    return std::make_unique<CanaryObjective>(DumpRequest{spec.method, "host", spec.canary},
                                             context);
  throw harness_error("custom objective type '" + spec.type + "' has no observer");
}

class Custom final : public Attack {
 public:
  Custom(const CustomObjectiveSpec& spec, fs::path model_file, const AttackContext& context,
         std::string secret)
      : model_file_(std::move(model_file)),
        secret_(std::move(secret)),
        secret_path_(spec.type == "secret_in_response" ? spec.path : ""),
        objective_(make_objective(spec, context, secret_)) {}

  void prepare(const ModelArtifacts& model, const fs::path& run_dir, const std::string&,
               WorkloadSpec& workload) override {
    objective_->prepare(model, run_dir);
    if (!secret_.empty()) workload.planted.push_back({secret_path_, secret_, 0600});
    if (model.declared) return;  // the file is served as declared: the workload points at it
    // Undeclared: the file stands in for the generated MLP's weights (a trojaned state dict).
    const fs::path model_dir = run_dir / "model";
    fs::create_directories(model_dir);
    fs::copy_file(model.dir / "model.json", model_dir / "model.json");
    const std::string name = model_file_.filename();
    fs::copy_file(model_file_, model_dir / name);
    workload.model_dir = model_dir;
    workload.model_file = name;
  }

  void while_serving(AttackSurface& surface) override { objective_->while_serving(surface); }
  ObjectiveStatus observe(AttackSurface& surface) override { return objective_->observe(surface); }
  std::vector<std::string> sandbox_files() const override { return objective_->sandbox_files(); }
  std::vector<ExpectedOperation> expected_operations() const override {
    return objective_->operations();
  }
  bool needs_exec_watch() const override { return objective_->needs_exec_watch(); }

 private:
  fs::path model_file_;
  std::string secret_;
  std::string secret_path_;
  std::unique_ptr<Objective> objective_;
};

class CustomDefinition final : public DefinitionBase {
 public:
  CustomDefinition(CustomObjectiveSpec spec, fs::path model_file)
      : DefinitionBase("custom"),
        spec_(std::move(spec)),
        model_file_(std::move(model_file)),
        secret_(spec_.type == "secret_in_response" ? fresh_secret() : "") {}

  json parameters() const override { return {{"objective", objective()}}; }

  json objective() const override {
    json j = {{"type", spec_.type}};
    if (!spec_.path.empty()) j["path"] = spec_.path;
    if (!spec_.host.empty()) j["host"] = spec_.host;
    if (spec_.port) j["port"] = spec_.port;
    if (!spec_.contains.empty()) j["contains"] = spec_.contains;
    if (!spec_.method.empty()) j["method"] = spec_.method;
    return j;
  }
  std::vector<ExpectedOperation> expected_operations() const override {
    if (spec_.type == "exec") return {{Operation::kExec, spec_.path, "the declared executable"}};
    if (spec_.type == "file_created")
      return {{Operation::kOpen, spec_.path, "the declared file is written"}};
    if (spec_.type == "secret_in_response")
      return {{Operation::kOpen, spec_.path, "the planted secret is read"}};
    if (spec_.type == "connect")
      return {{Operation::kSocket, "socket tcp", "creates the TCP socket it connects with"},
              {Operation::kConnect, "*:" + std::to_string(spec_.port), "the declared connection"}};
    return memory_operations_for(spec_.method);
  }
  std::unique_ptr<Attack> instantiate(const AttackContext& context,
                                      const ResourceLimits&) const override {
    return std::make_unique<Custom>(spec_, model_file_, context, secret_);
  }

 private:
  CustomObjectiveSpec spec_;
  fs::path model_file_;
  std::string secret_;
};

CustomObjectiveSpec parse_objective(TomlTable& table) {
  CustomObjectiveSpec spec;
  const auto type = table.choice(
      "type", {"file_created", "connect", "exec", "canary_found", "secret_in_response"});
  if (!type)
    throw table.error_at("",
                         "missing required key 'type' (file_created, connect, exec, canary_found, "
                         "secret_in_response)");
  spec.type = *type;
  if (spec.type == "secret_in_response") {
    spec.path = table.required_string("path");
    if (spec.path.rfind("/tmp/", 0) != 0 && spec.path.rfind("/run/", 0) != 0)
      throw table.error_at("path",
                           "the secret is planted under /tmp or /run, got '" + spec.path + "'");
    if (spec.path.find("/../") != std::string::npos || spec.path.back() == '/')
      throw table.error_at("path", "the secret's path names one file");
  } else if (spec.type == "file_created") {
    spec.path = table.required_string("path");
    spec.contains = table.string("contains").value_or("");
  } else if (spec.type == "connect") {
    spec.host = table.string("host").value_or("127.0.0.1");
    spec.port = static_cast<int>(table.integer("port", 1, 65535).value_or(0));
    if (spec.port == 0) throw table.error_at("", "a connect objective needs 'port'");
    spec.contains = table.string("contains").value_or("");
    if (spec.contains.empty())
      throw table.error_at("",
                           "a connect objective needs 'contains': the bytes the model's "
                           "connection sends (a connection alone proves nothing)");
    in_addr address{};
    if (::inet_pton(AF_INET, spec.host.c_str(), &address) != 1)
      throw table.error_at("host",
                           "host must be an IPv4 address of this host (the listener "
                           "binds it), got '" +
                               spec.host + "'");
  } else if (spec.type == "exec") {
    spec.path = table.required_string("path");
  } else {
    spec.canary = table.string("canary").value_or("");
    if (!spec.canary.empty() &&
        (spec.canary.size() % 2 != 0 || spec.canary.size() < 8 ||
         spec.canary.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos))
      throw table.error_at("canary", "canary must be hex bytes (at least 4 bytes)");
    spec.method = table.choice("method", {"process_vm_readv", "proc_mem", "ptrace", "io_uring"})
                      .value_or("process_vm_readv");
  }
  if ((spec.type == "file_created" || spec.type == "exec") && spec.path.front() != '/')
    throw table.error_at("path", "objective path must be absolute (inside the sandbox)");
  if ((spec.type == "file_created" || spec.type == "exec") &&
      spec.path.find_first_of("*?[") != std::string::npos)
    throw table.error_at("path", "objective path names one file, not a pattern");
  table.finish();
  return spec;
}

std::shared_ptr<AttackDefinition> parse(TomlTable& table, const AttackParseContext& context) {
  auto objective = table.table("objective");
  if (!objective) throw table.error_at("", "a custom attack must declare its 'objective'");
  CustomObjectiveSpec spec = parse_objective(*objective);
  if (!context.model_file)
    throw input_error("a custom attack runs a model file: set model = { file = ... }",
                      table.location());
  return std::make_shared<CustomDefinition>(std::move(spec), *context.model_file);
}

}  // namespace

AttackKindEntry custom_kind() {
  return {"custom", &parse, "A user-supplied model file reaches the objective its author declared",
          "CWE-506", 8.8};
}

}  // namespace armorbench::attacks
