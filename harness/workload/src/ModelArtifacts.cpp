// Model generation through the Python generator and loading of its expected.json.
#include "armorbench/workload/ModelArtifacts.h"

#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "armorbench/base/Error.h"
#include "armorbench/base/Subprocess.h"

namespace armorbench {
namespace fs = std::filesystem;

std::string to_string(Loader loader) {
  switch (loader) {
    case Loader::kTorch:
      return "torch";
    case Loader::kTorchWeightsOnly:
      return "torch-weights-only";
    case Loader::kSafetensors:
      return "safetensors";
    case Loader::kPickle:
      return "pickle";
  }
  return "torch";
}

std::string ModelArtifacts::file_for(Loader loader) {
  switch (loader) {
    case Loader::kSafetensors:
      return "model.safetensors";
    case Loader::kPickle:
      return "model.pkl";
    default:
      return "model.pt";
  }
}

bool ModelArtifacts::matches(const std::vector<float>& actual,
                             const std::vector<float>& expected) const {
  if (actual.size() != expected.size()) return false;
  for (std::size_t i = 0; i < actual.size(); ++i)
    if (!(std::fabs(actual[i] - expected[i]) <= tolerance * (1.0 + std::fabs(expected[i]))))
      return false;
  return true;
}

ModelArtifacts generate_model(const fs::path& data_dir, const fs::path& out_dir,
                              const std::vector<int>& layer_sizes) {
  fs::create_directories(out_dir);
  std::string layers;
  for (int size : layer_sizes) layers += (layers.empty() ? "" : ",") + std::to_string(size);
  const std::vector<std::string> argv{
      "/usr/bin/python3",
      (data_dir / "harness" / "workload" / "make_model.py").string(),
      "--out",
      out_dir.string(),
      "--layers",
      layers};
  const CommandResult result = run_command(argv, std::chrono::minutes(3));
  if (result.timed_out || !result.status.exited_ok())
    throw environment_error(
        "model generation failed (" +
        (result.timed_out ? std::string("timed out") : result.status.describe()) +
        "): " + join_argv(argv) + "\n" + result.err);

  // The expectations (with the canary) must not be visible inside the sandbox, where out_dir is
  // mounted: keep them beside it.
  const fs::path expected_file =
      out_dir.parent_path() / (out_dir.filename().string() + ".expected.json");
  std::error_code ec;
  fs::rename(out_dir / "expected.json", expected_file, ec);
  std::ifstream in(expected_file);
  const auto expected = nlohmann::json::parse(in, nullptr, false);
  if (expected.is_discarded()) throw harness_error("the model generator wrote no expected.json");
  std::ifstream config_in(out_dir / "model.json");
  const auto config = nlohmann::json::parse(config_in, nullptr, false);

  ModelArtifacts model;
  model.dir = out_dir;
  model.name = config.is_discarded() ? "mlp-classifier" : config.value("name", "mlp-classifier");
  model.canary_hex = expected.at("canary_hex").get<std::string>();
  model.inputs = expected.at("inputs").get<std::vector<std::vector<float>>>();
  model.outputs = expected.at("outputs").get<std::vector<std::vector<float>>>();
  model.tolerance = expected.value("tolerance", 1e-4);
  model.sha256 = expected.value("sha256", std::map<std::string, std::string>{});
  if (model.inputs.empty() || model.inputs.size() != model.outputs.size())
    throw harness_error("expected.json has no usable input/output pairs");
  return model;
}

}  // namespace armorbench
