// cuda-abuse: an unlisted binary (the model server's interpreter) opens CUDA driver stand-ins
// (libcuda.so.1 and /dev/nvidia0, each holding a nonce of its own), the way a hijacker grabs the
// GPU. No keys. Objective: the payload copied both nonces it read into a marker.
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

  // Each stand-in carries its own nonce: the objective is both read (the library and the device
  // a GPU hijack needs), so neither alone counts.
  void prepare(const ModelArtifacts& model, const fs::path& run_dir, const std::string&,
               WorkloadSpec& workload) override {
    for (const std::string& path : driver_paths()) {
      const std::string nonce = random_hex(16);
      workload.planted.push_back({path, "stand-in " + path + " " + nonce + "\n", 0644});
      read_.push_back(std::make_unique<MarkerObjective>(kMarkerPath, nonce, path + " was read"));
    }
    payload_.inject_script(model, run_dir, workload, "open_device.py",
                           {{"paths", driver_paths()}, {"marker", kMarkerPath}});
  }

  ObjectiveStatus observe(AttackSurface& surface) override {
    ObjectiveStatus status;
    status.reached = true;
    for (const auto& objective : read_) {
      ObjectiveStatus one = objective->observe(surface);
      status.reached = status.reached && one.reached;
      status.detail += (status.detail.empty() ? "" : "; ") + one.detail;
      for (Evidence& e : one.evidence) status.evidence.push_back(std::move(e));
    }
    return status;
  }
  std::vector<std::string> sandbox_files() const override { return {kMarkerPath}; }

 private:
  ModelPayload payload_;
  std::vector<std::unique_ptr<MarkerObjective>> read_;
};

class CudaAbuseDefinition final : public DefinitionBase {
 public:
  CudaAbuseDefinition() : DefinitionBase("cuda-abuse") {}
  json objective() const override {
    return {{"type", "file_created"},
            {"path", kMarkerPath},
            {"contains", "each stand-in's own nonce"},
            {"what", "the contents of both libcuda.so.1 and /dev/nvidia0 stand-ins are read"}};
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
  return {"cuda-abuse", &parse,
          "An unlisted program opens the GPU driver's library and device to hijack the accelerator",
          "CWE-284", 7.1};
}

}  // namespace armorbench::attacks
