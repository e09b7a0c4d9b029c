// Attack plans: staging and observation per attack kind.
#include "armorbench/harness/AttackPlan.h"

#include "armorbench/base/Error.h"

namespace armorbench {
namespace {

// A benign case: the real model, nothing planted, no objective.
class BenignPlan final : public AttackPlan {
 public:
  void prepare(const ModelArtifacts& base, const std::filesystem::path&, const std::string&,
               WorkloadSpec& workload) override {
    workload.model_dir = base.dir;
  }
  ObjectiveStatus observe(Sandbox&) override { return {}; }
};

}  // namespace

std::unique_ptr<AttackPlan> make_attack_plan(const CaseSpec& c, const AttackContext&) {
  switch (c.attack.kind) {
    case AttackKind::kNone:
      return std::make_unique<BenignPlan>();
    default:
      throw environment_error("attack kind " + to_string(c.attack.kind) + " is not available yet");
  }
}

}  // namespace armorbench
