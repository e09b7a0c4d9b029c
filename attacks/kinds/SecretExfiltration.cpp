// secret-exfiltration: the model load reads a planted service-account token and sends it to a
// harness listener. No keys. Objective: the token itself arrives at the listener.
#include "KindSupport.h"
#include "armorbench/attacks/Objectives.h"
#include "armorbench/base/Hex.h"

namespace armorbench::attacks {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

// Kubernetes mounts it at /var/run/secrets/...; /var/run is a link to /run.
constexpr const char* kTokenPath = kServiceAccountToken;
constexpr const char* kTokenPathAsRead = "/var/run/secrets/kubernetes.io/serviceaccount/token";

class SecretExfiltration final : public Attack {
 public:
  explicit SecretExfiltration(const AttackContext& context) : payload_(context, "pt") {}

  void prepare(const ModelArtifacts& model, const fs::path& run_dir, const std::string& host,
               WorkloadSpec& workload) override {
    const std::string token = fresh_service_account_token();
    listener_ = std::make_unique<BeaconObjective>("127.0.0.1", 0, token,
                                                  "the service-account token was exfiltrated");
    payload_.inject_script(
        model, run_dir, workload, "exfiltrate_secret.py",
        {{"secret_path", kTokenPathAsRead}, {"host", host}, {"port", listener_->port()}});
    workload.planted.push_back({kTokenPath, token, 0600});
  }

  ObjectiveStatus observe(AttackSurface& surface) override { return listener_->observe(surface); }
  std::vector<ExpectedOperation> expected_operations() const override {
    std::vector<ExpectedOperation> ops{{Operation::kOpen, kTokenPath, "reads the token"}};
    for (ExpectedOperation& op : listener_->operations()) ops.push_back(std::move(op));
    return ops;
  }

 private:
  ModelPayload payload_;
  std::unique_ptr<BeaconObjective> listener_;
};

class SecretExfiltrationDefinition final : public DefinitionBase {
 public:
  SecretExfiltrationDefinition() : DefinitionBase("secret-exfiltration") {}
  json objective() const override {
    return {{"type", "connect"}, {"what", "the planted token reaches a harness listener"}};
  }
  std::vector<ExpectedOperation> expected_operations() const override {
    return {{Operation::kOpen, kTokenPath, "reads the service-account token"},
            {Operation::kSocket, "socket tcp", "creates the TCP socket it sends with"},
            {Operation::kConnect, "", "sends it to a listener"}};
  }
  std::unique_ptr<Attack> instantiate(const AttackContext& context,
                                      const ResourceLimits&) const override {
    return std::make_unique<SecretExfiltration>(context);
  }
};

std::shared_ptr<AttackDefinition> parse(TomlTable&, const AttackParseContext&) {
  return std::make_shared<SecretExfiltrationDefinition>();
}

}  // namespace

AttackKindEntry secret_exfiltration_kind() {
  return {"secret-exfiltration", &parse,
          "The model load reads a mounted service-account token and sends it out", "CWE-200", 7.4};
}

}  // namespace armorbench::attacks
