// What a target runs for one case: the model server (harness/workload/model_server.py) with a
// model directory, a loader, files planted beside it and the resource limits of the run. Every
// target kind runs this same workload; attacks change only its inputs (the model, planted files).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace armorbench {

// How the model server loads the model file (model_server.py --loader).
enum class Loader { kTorch, kTorchWeightsOnly, kSafetensors, kPickle, kJoblib, kXgboost, kOnnx };

// torch | torch-weights-only | safetensors | pickle | joblib | xgboost | onnx
std::string to_string(Loader loader);
std::optional<Loader> loader_from_string(const std::string& name);

struct ResourceLimits {
  std::optional<double> cpus;
  std::optional<std::uint64_t> memory_bytes;
  std::optional<std::int64_t> pids;
  // The sandbox's writable storage (/tmp, /run): a tmpfs of this size (containers only).
  std::optional<std::uint64_t> disk_bytes;
};

// A file put into the sandbox before the workload starts (a service-account token, CUDA driver
// stand-ins). Paths under /tmp and /run land in the sandbox's scratch space; /dev/* paths are
// bound in as files.
struct PlantedFile {
  std::string sandbox_path;
  std::string content;
  unsigned mode = 0644;
};

struct WorkloadSpec {
  std::string id;                   // unique per case run; names containers and domains
  std::filesystem::path model_dir;  // host directory, visible read-only to the server
  std::string model_file;           // file name inside model_dir
  Loader loader = Loader::kTorch;
  std::vector<PlantedFile> planted;
  ResourceLimits limits;  // as resolved for the mode (none in the positive control)
  std::chrono::milliseconds ready_timeout{120'000};
};

}  // namespace armorbench
