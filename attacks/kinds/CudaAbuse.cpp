// cuda-abuse: an unlisted binary (the model server's interpreter) opens CUDA driver stand-ins
// (libcuda.so.1 and /dev/nvidia0, each holding this run's nonce), the way a hijacker grabs the
// GPU. No keys. Objective: the payload copied what it read into a marker.
#include "KindSupport.h"
#include "armorbench/attacks/Objectives.h"
#include "armorbench/base/Hex.h"

namespace armorbench::attacks {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

const std::vector<std::string>& driver_paths() {
  static const std::vector<std::string> paths{
      "/run/nvidia/driver/usr/lib/x86_64-linux-gnu/libcuda.so.1", "/dev/nvidia0"};
  return paths;
}

class CudaAbuse final : public Attack {
 public:
  explicit CudaAbuse(const AttackContext& context) : payload_(context, "pt") {}

  void prepare(const ModelArtifacts& model, const fs::path& run_dir, const std::string&,
               WorkloadSpec& workload) override {
    const std::string nonce = random_hex(16);
    for (const std::string& path : driver_paths())
      workload.planted.push_back({path, "stand-in " + path + " " + nonce + "\n", 0644});
    payload_.inject_script(model, run_dir, workload, "open_device.py",
                           {{"paths", driver_paths()}, {"marker", kMarkerPath}});
    objective_ = std::make_unique<MarkerObjective>(
        kMarkerPath, nonce, "the CUDA driver stand-ins were opened and read");
  }

  ObjectiveStatus observe(AttackSurface& surface) override { return objective_->observe(surface); }
  std::vector<std::string> sandbox_files() const override { return {kMarkerPath}; }

 private:
  ModelPayload payload_;
  std::unique_ptr<MarkerObjective> objective_;
};

class CudaAbuseDefinition final : public DefinitionBase {
 public:
  CudaAbuseDefinition() : DefinitionBase("cuda-abuse") {}
  json objective() const override {
    return {{"type", "file_created"},
            {"path", kMarkerPath},
            {"what", "the contents of libcuda.so.1 / /dev/nvidia0 stand-ins are read"}};
  }
  std::vector<ExpectedOperation> expected_operations() const override {
    std::vector<ExpectedOperation> ops;
    for (const std::string& path : driver_paths())
      ops.push_back({Operation::kOpen, path, "opens a CUDA driver file"});
    return ops;
  }
  std::unique_ptr<Attack> instantiate(const AttackContext& context,
                                      const ResourceLimits&) const override {
    return std::make_unique<CudaAbuse>(context);
  }
};

std::shared_ptr<AttackDefinition> parse(TomlTable&, const AttackParseContext&) {
  return std::make_shared<CudaAbuseDefinition>();
}

}  // namespace

AttackKindEntry cuda_abuse_kind() {
  return {"cuda-abuse", &parse};
}

}  // namespace armorbench::attacks
