// disk-fill: the model load fills the sandbox's writable storage (/tmp, then /run) past the
// target's disk limit. No keys; the target must set limits.disk. The positive control (no disk
// limit: the storage is the host's disk) shows the payload stores more than the limit; enforced
// runs show the limit's tmpfs refusing it. Objective and evidence are the harness's own: what the
// storage holds, measured from the host, and a write of its own refused with ENOSPC.
#include "KindSupport.h"

namespace armorbench::attacks {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

// How far past the limit the payload tries to write (the control's excess; bounded for the host).
constexpr std::uint64_t kExcessBytes = 64ull << 20;

std::string mib(std::uint64_t bytes) {
  return std::to_string(bytes >> 20) + "." +
         std::to_string(((bytes & ((1u << 20) - 1)) * 10) >> 20) + " MiB";
}

class DiskFill final : public Attack {
 public:
  DiskFill(const AttackContext& context, std::uint64_t limit)
      : payload_(context, "pt"), limit_(limit) {}

  void prepare(const ModelArtifacts& model, const fs::path& run_dir, const std::string&,
               WorkloadSpec& workload) override {
    payload_.inject_script(model, run_dir, workload, "fill_disk.py",
                           {{"bytes", limit_ + kExcessBytes}, {"dirs", {"/tmp", "/run"}}});
  }

  ObjectiveStatus observe(AttackSurface& surface) override {
    const StorageUsage usage = surface.storage_usage();
    ObjectiveStatus status;
    status.reached = usage.used_bytes > limit_;
    status.detail =
        "the sandbox's /tmp and /run hold " + mib(usage.used_bytes) +
        (status.reached ? ", " + mib(usage.used_bytes - limit_) + " past" : ", within") + " the " +
        mib(limit_) + " disk limit";
    json data = {{"used_bytes", usage.used_bytes}, {"limit_bytes", limit_}};
    if (usage.limit_bytes) {
      data["storage_bytes"] = *usage.limit_bytes;
      data["probe"] = usage.probe;
    }
    status.evidence.push_back({"objective", status.detail, data});
    if (usage.limit_bytes && usage.full)
      status.denials.push_back({"kernel (tmpfs size=" + mib(*usage.limit_bytes) + ")",
                                Operation::kAllocate, "disk",
                                "the sandbox's storage is full at its limit: a write of the "
                                "harness's own into it was refused (" +
                                    usage.probe + ")",
                                true, data, "disk"});
    return status;
  }

  json objective() const override {
    return {{"type", "resource_exceeded"}, {"resource", "disk"}, {"limit_bytes", limit_}};
  }

 private:
  ModelPayload payload_;
  std::uint64_t limit_;
};

class DiskFillDefinition final : public DefinitionBase {
 public:
  DiskFillDefinition() : DefinitionBase("disk-fill") {}
  json objective() const override { return {{"type", "resource_exceeded"}, {"resource", "disk"}}; }
  std::vector<ExpectedOperation> expected_operations() const override {
    return {{Operation::kAllocate, "disk",
             "stores beyond the disk limit (the kernel refuses the write: ENOSPC)"}};
  }
  std::optional<std::string> required_limit() const override { return "disk"; }
  std::unique_ptr<Attack> instantiate(const AttackContext& context,
                                      const ResourceLimits& limits) const override {
    if (!limits.disk_bytes)
      throw input_error("disk-fill needs a target with a disk limit (limits = { disk = ... })",
                        where);
    return std::make_unique<DiskFill>(context, *limits.disk_bytes);
  }
};

std::shared_ptr<AttackDefinition> parse(TomlTable&, const AttackParseContext&) {
  return std::make_shared<DiskFillDefinition>();
}

}  // namespace

AttackKindEntry disk_fill_kind() {
  return {"disk-fill", &parse,
          "The model load fills the sandbox's writable storage beyond its disk limit", "CWE-400",
          5.5};
}

}  // namespace armorbench::attacks
