// memory-dump: model theft from outside the sandbox. The real model is served; an attacker reads
// its memory and searches it for the weights' canary. Keys: method (process_vm_readv | proc_mem
// | ptrace | io_uring | core_dump), from (host | sibling). The target offers the primitives (the
// host pid holding the model, a privileged sibling, the hypervisor's dump); the dump itself and
// its denial rule live in CanaryObjective.
#include "KindSupport.h"
#include "armorbench/attacks/Objectives.h"

namespace armorbench::attacks {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

class MemoryDump final : public Attack {
 public:
  MemoryDump(const DumpRequest& request, const AttackContext& context)
      : objective_(request, context) {}

  void prepare(const ModelArtifacts& model, const fs::path& run_dir, const std::string&,
               WorkloadSpec&) override {
    objective_.prepare(model, run_dir);
  }
  void while_serving(AttackSurface& surface) override { objective_.while_serving(surface); }
  ObjectiveStatus observe(AttackSurface& surface) override { return objective_.observe(surface); }
  std::vector<ExpectedOperation> expected_operations() const override {
    return objective_.operations();
  }

 private:
  CanaryObjective objective_;
};

class MemoryDumpDefinition final : public DefinitionBase {
 public:
  explicit MemoryDumpDefinition(DumpRequest request)
      : DefinitionBase("memory-dump"), request_(std::move(request)) {}

  json parameters() const override {
    return {{"method", request_.method}, {"from", request_.from}};
  }

  json objective() const override {
    return {{"type", "canary_found"},
            {"method", request_.method},
            {"from", request_.from},
            {"what", "the 32-byte canary in the model's weights is found in the dump"}};
  }
  std::vector<ExpectedOperation> expected_operations() const override {
    return memory_operations_for(request_.method);
  }
  std::unique_ptr<Attack> instantiate(const AttackContext& context,
                                      const ResourceLimits&) const override {
    return std::make_unique<MemoryDump>(request_, context);
  }

 private:
  DumpRequest request_;
};

std::shared_ptr<AttackDefinition> parse(TomlTable& table, const AttackParseContext&) {
  DumpRequest request;
  const auto method =
      table.choice("method", {"process_vm_readv", "proc_mem", "ptrace", "io_uring", "core_dump"});
  if (!method) throw table.error_at("", "memory-dump needs 'method'");
  request.method = *method;
  request.from = table.choice("from", {"host", "sibling"}).value_or("host");
  return std::make_shared<MemoryDumpDefinition>(std::move(request));
}

}  // namespace

AttackKindEntry memory_dump_kind() {
  return {"memory-dump", &parse,
          "Model theft: the weights are read out of the serving process's memory from outside the "
          "sandbox",
          "CWE-316", 6.0};
}

}  // namespace armorbench::attacks
