// What the attack kinds share (private to attacks/kinds): the definition base, trojaning the
// benign model with a pickle gadget, and the registry entry each kind file provides.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "armorbench/attacks/Attack.h"
#include "armorbench/base/Hex.h"
#include "armorbench/base/TomlTable.h"

namespace armorbench::attacks {

// The marker path in-sandbox payloads write (the sandbox's own /tmp).
inline constexpr const char* kMarkerPath = "/tmp/abx-marker";

// The service-account token the credential attacks plant: Kubernetes mounts it at
// /var/run/secrets/...; /var/run is a link to /run. A fresh, recognisable value per run.
inline constexpr const char* kServiceAccountToken =
    "/run/secrets/kubernetes.io/serviceaccount/token";
inline std::string fresh_service_account_token() {
  return "eyJhbGciOiJSUzI1NiJ9.armorbench-" + random_hex(24);
}

class DefinitionBase : public AttackDefinition {
 public:
  explicit DefinitionBase(std::string kind) : kind_(std::move(kind)) {}
  const std::string& kind() const override { return kind_; }

 private:
  std::string kind_;
};

// The model file carries the attack: a copy of the real model with a pickle gadget spliced in
// the way fickling-style injectors do it, so it still loads and serves.
class ModelPayload {
 public:
  ModelPayload(AttackContext context, std::string format)
      : context_(std::move(context)), format_(std::move(format)) {}
  // Writes run_dir/model/ (model.json and the injected model under the name the workload's
  // loader reads) and points the workload at it.
  void inject(const ModelArtifacts& model, const std::filesystem::path& run_dir,
              WorkloadSpec& workload, const std::string& gadget,
              const std::vector<std::string>& gadget_args) const;
  // builtins.exec of attacks/payloads/<script> with its PARAMS.
  void inject_script(const ModelArtifacts& model, const std::filesystem::path& run_dir,
                     WorkloadSpec& workload, const std::string& script,
                     const nlohmann::json& params) const;
  const AttackContext& context() const { return context_; }

 private:
  AttackContext context_;
  std::string format_;  // pt | pickle | joblib: the container of the benign model injected into
};

// One registry entry: a kind's name and its parser (the parser reads only the kind's own keys;
// parse_attack reads `kind` and checks for unknown keys after).
using AttackParser = std::shared_ptr<AttackDefinition> (*)(TomlTable& table,
                                                           const AttackParseContext& context);
struct AttackKindEntry {
  const char* name;
  AttackParser parse;
  const char* summary;  // AttackKindInfo
  const char* cwe;
  double severity;
};

AttackKindEntry pickle_injection_kind();
AttackKindEntry cryptominer_kind();
AttackKindEntry memory_dump_kind();
AttackKindEntry secret_exfiltration_kind();
AttackKindEntry cuda_abuse_kind();
AttackKindEntry fork_bomb_kind();
AttackKindEntry memory_hog_kind();
AttackKindEntry custom_kind();
AttackKindEntry evasion_kind();
AttackKindEntry onnx_external_data_kind();
AttackKindEntry disk_fill_kind();
AttackKindEntry denial_of_service_kind();

}  // namespace armorbench::attacks
