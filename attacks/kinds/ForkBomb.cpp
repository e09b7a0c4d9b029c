// fork-bomb: the model load forks beyond the target's pids limit. No keys; the target must set
// limits.pids. The positive control (no limits) shows the payload exceeds it; enforced runs show
// the kernel refusing forks at pids.max.
#include "KindSupport.h"
#include "armorbench/attacks/Objectives.h"

namespace armorbench::attacks {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

class ForkBomb final : public Attack {
 public:
  ForkBomb(const AttackContext& context, std::int64_t pids_limit)
      : payload_(context, "pt"),
        objective_(ResourceObjective::Resource::kPids, static_cast<std::uint64_t>(pids_limit),
                   kMarkerPath),
        limit_(pids_limit) {}

  void prepare(const ModelArtifacts& model, const fs::path& run_dir, const std::string&,
               WorkloadSpec& workload) override {
    // Bounded above the limit so the unconfined control cannot hurt the host. The children
    // outlive the fork loop (they hold longer than forking takes on a loaded host), so the
    // count the payload reports is a count of processes alive at the same time.
    payload_.inject_script(
        model, run_dir, workload, "fork_bomb.py",
        {{"max_procs", limit_ + 32}, {"hold_seconds", 60}, {"marker", kMarkerPath}});
  }
  ObjectiveStatus observe(AttackSurface& surface) override { return objective_.observe(surface); }
  json objective() const override { return objective_.describe(); }
  std::vector<std::string> sandbox_files() const override { return objective_.sandbox_files(); }
  std::vector<Denial> kernel_denials(const CgroupStats& final) const override {
    if (final.pids_max_events == 0) return {};
    return {{"kernel (pids controller)", Operation::kFork, "pids.max",
             "pids.max refused " + std::to_string(final.pids_max_events) + " fork(s)", true,
             final.to_json(), "pids.max"}};
  }

 private:
  ModelPayload payload_;
  ResourceObjective objective_;
  std::int64_t limit_;
};

class ForkBombDefinition final : public DefinitionBase {
 public:
  ForkBombDefinition() : DefinitionBase("fork-bomb") {}
  json objective() const override { return {{"type", "resource_exceeded"}, {"resource", "pids"}}; }
  std::vector<ExpectedOperation> expected_operations() const override {
    return {{Operation::kFork, "pids.max", "forks beyond the pids limit (the kernel refuses)"}};
  }
  std::optional<std::string> required_limit() const override { return "pids"; }
  std::unique_ptr<Attack> instantiate(const AttackContext& context,
                                      const ResourceLimits& limits) const override {
    if (!limits.pids) throw input_error("fork-bomb needs a target with a pids limit", where);
    return std::make_unique<ForkBomb>(context, *limits.pids);
  }
};

std::shared_ptr<AttackDefinition> parse(TomlTable&, const AttackParseContext&) {
  return std::make_shared<ForkBombDefinition>();
}

}  // namespace

AttackKindEntry fork_bomb_kind() {
  return {"fork-bomb", &parse, "The model load forks processes beyond the sandbox's limit",
          "CWE-400", 6.5};
}

}  // namespace armorbench::attacks
