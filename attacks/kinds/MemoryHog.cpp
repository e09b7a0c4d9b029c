// memory-hog: the model load allocates beyond the target's memory limit. No keys; the target
// must set limits.memory. The positive control (no limits) shows the payload holds more; enforced
// runs show the memory controller refusing it (allocations at the limit, the OOM killer).
#include "KindSupport.h"
#include "armorbench/attacks/Objectives.h"

namespace armorbench::attacks {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

class MemoryHog final : public Attack {
 public:
  MemoryHog(const AttackContext& context, std::uint64_t memory_limit)
      : payload_(context, "pt"),
        objective_(ResourceObjective::Resource::kMemory, memory_limit, kMarkerPath),
        limit_(memory_limit) {}

  void prepare(const ModelArtifacts& model, const fs::path& run_dir, const std::string&,
               WorkloadSpec& workload) override {
    payload_.inject_script(
        model, run_dir, workload, "memory_hog.py",
        {{"bytes", limit_ + (256ull << 20)}, {"hold_seconds", 4}, {"marker", kMarkerPath}});
  }
  ObjectiveStatus observe(AttackSurface& surface) override { return objective_.observe(surface); }
  json objective() const override { return objective_.describe(); }
  std::vector<std::string> sandbox_files() const override { return objective_.sandbox_files(); }
  std::vector<Denial> kernel_denials(const CgroupStats& final) const override {
    std::vector<Denial> denials;
    if (final.memory_oom_kills > 0)
      denials.push_back({"kernel (memory controller)", Operation::kAllocate, "memory.max",
                         "the memory limit's OOM killer killed " +
                             std::to_string(final.memory_oom_kills) + " process(es)",
                         true, final.to_json(), "memory.max"});
    // memory.events "max" (reclaim at the limit, page cache included) is pressure, not a
    // refusal: it is evidence in the cgroup stats, not a denial.
    return denials;
  }

 private:
  ModelPayload payload_;
  ResourceObjective objective_;
  std::uint64_t limit_;
};

class MemoryHogDefinition final : public DefinitionBase {
 public:
  MemoryHogDefinition() : DefinitionBase("memory-hog") {}
  json objective() const override {
    return {{"type", "resource_exceeded"}, {"resource", "memory"}};
  }
  std::vector<ExpectedOperation> expected_operations() const override {
    return {{Operation::kAllocate, "memory.max",
             "allocates beyond the memory limit (the kernel refuses)"}};
  }
  std::optional<std::string> required_limit() const override { return "memory"; }
  std::unique_ptr<Attack> instantiate(const AttackContext& context,
                                      const ResourceLimits& limits) const override {
    if (!limits.memory_bytes)
      throw input_error("memory-hog needs a target with a memory limit", where);
    return std::make_unique<MemoryHog>(context, *limits.memory_bytes);
  }
};

std::shared_ptr<AttackDefinition> parse(TomlTable&, const AttackParseContext&) {
  return std::make_shared<MemoryHogDefinition>();
}

}  // namespace

AttackKindEntry memory_hog_kind() {
  return {"memory-hog", &parse, "The model load allocates memory beyond the sandbox's limit",
          "CWE-770", 6.5};
}

}  // namespace armorbench::attacks
